package io.couponstate.examples;

import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;

/** Turning exceptions and input into one-line messages for people: no class names, no repeats, bounded echo. */
final class Messages {

    /** The most characters of user input any message echoes. */
    static final int MAX_ECHO = 64;

    private Messages() {
    }

    /** {@code s} cut to {@link #MAX_ECHO} characters, with "..." and the full length when cut. */
    static String cut(String s) {
        if (s.length() <= MAX_ECHO) {
            return s;
        }
        return s.substring(0, MAX_ECHO - 3) + "... (" + s.length() + " characters)";
    }

    /**
     * The messages of {@code t} and its causes joined with ": ", each only when it does not repeat what is said
     * already; a throwable without a message says what it is in words where it can.
     */
    static String describe(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            String m = ownMessage(c);
            if (m.isEmpty() || sb.indexOf(m) >= 0) {
                continue;
            }
            if (sb.length() > 0) {
                sb.append(": ");
            }
            sb.append(m);
        }
        return sb.length() == 0 ? t.getClass().getSimpleName() : sb.toString();
    }

    /** One throwable's message, without the {@code java.lang.X: } prefix Kafka and the JDK put into messages. */
    private static String ownMessage(Throwable t) {
        if (t instanceof FileSystemException f && !(t.getClass() == FileSystemException.class)) {
            return fileProblem(f);
        }
        String m = t.getMessage();
        if (m == null || m.isBlank()) {
            return "";
        }
        // "java.io.IOException: x" inside a wrapper's message: keep "x"
        return m.replaceAll("\\b(?:[a-z][a-z0-9_]*\\.)+[A-Z][A-Za-z0-9_]*(?:Exception|Error): ", "").strip();
    }

    /** {@code cannot read <path>: no such file}-style wording for the JDK's file exceptions. */
    static String fileProblem(FileSystemException e) {
        String what;
        if (e instanceof NoSuchFileException) {
            what = "no such file";
        } else if (e instanceof AccessDeniedException) {
            what = "permission denied";
        } else if (e instanceof NotDirectoryException) {
            what = "not a directory";
        } else if (e instanceof java.nio.file.FileAlreadyExistsException) {
            what = "already exists (as a file, where a directory is expected?)";
        } else {
            what = e.getReason() == null ? "cannot be read" : e.getReason();
        }
        return (e.getFile() == null ? "" : e.getFile() + ": ") + what;
    }
}
