package io.couponstate.kafka.internal.publish;

import io.couponstate.kafka.PublishException;
import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.zip.GZIPInputStream;

/**
 * What the publisher checks of a file before it sends anything (it is a readable file of text lines, few of them
 * oversized), and how it opens one (gzip by name or by magic bytes). Failures are put in words for people, never as
 * an exception class name. Stateless.
 */
public final class FileCheck {

    /** How much of a file (decompressed) is checked for being text lines before anything is sent. */
    public static final int PREFIX_BYTES = 64 * 1024;
    /** The read buffer. */
    public static final int CHUNK = 64 * 1024;

    private FileCheck() {
    }

    /** What the first {@value #PREFIX_BYTES} bytes of a file say about it. */
    public static final class Prefix {
        /** Lines seen. */
        public long lines;
        /** Lines with a code (not blank, not oversized). */
        public long codeLines;
        /** Lines longer than the bound. */
        public long oversized;
        /** Whether the prefix is the whole file. */
        public boolean wholeFile;
        /** The whole input (decompressed), the checked prefix included: what is split into lines and sent. */
        public InputStream stream;

        /** Whether the whole file holds no code line and no oversized one. */
        public boolean empty() {
            return wholeFile && codeLines == 0 && oversized == 0;
        }
    }

    /** The file's size (-1 for a FIFO, a pipe or a device); refuses a directory or a missing or unreadable file in words. */
    public static long checkFile(Path file) throws PublishException {
        if (Files.isDirectory(file)) {
            throw refused(file, "cannot publish " + file + ": a directory (expected: a coupon file, one code per "
                    + "line)", null);
        }
        try {
            if (!Files.isRegularFile(file) && Files.exists(file)) {
                // a FIFO or a device: readable, but its size means nothing; allowed, the prefix check decides
                return -1;
            }
            return Files.size(file);
        } catch (IOException e) {
            throw refused(file, "cannot read " + file + ": " + fileProblem(e), e);
        }
    }

    /**
     * Opens {@code raw} once for publishing: decompresses it when it is gzip (by {@code file}'s name, or by its first
     * two bytes), then reads its first {@value #PREFIX_BYTES} bytes (decompressed) and refuses it unless it looks
     * like text lines: no NUL byte, and at most {@code maxOversizedShare} of those lines longer than
     * {@code maxLineLength}. The returned prefix holds the stream to send from: the bytes checked followed by the
     * rest, so nothing is read twice and a pipe or FIFO works as well as a file. Nothing is sent, no topic made.
     *
     * @param file what the messages call the input
     * @param raw the input's bytes, read once; closed by the caller
     * @param maxLineLength the line bound in bytes
     * @param maxOversizedShare the share of oversized lines above which the input is refused
     * @return what the prefix says, and the stream to read the whole input from
     * @throws PublishException when the input is unreadable or not text lines
     */
    public static Prefix checkPrefix(Path file, InputStream raw, int maxLineLength, double maxOversizedShare)
            throws PublishException {
        Prefix p = new Prefix();
        byte[] buf;
        try {
            InputStream in = open(file, raw);
            buf = in.readNBytes(PREFIX_BYTES);
            int next = buf.length < PREFIX_BYTES ? -1 : in.read();
            p.wholeFile = next < 0;
            byte[] checked = buf;
            if (next >= 0) {
                checked = java.util.Arrays.copyOf(buf, buf.length + 1);
                checked[buf.length] = (byte) next;
            }
            p.stream = new SequenceInputStream(new ByteArrayInputStream(checked), in);
        } catch (IOException e) {
            throw refused(file, "cannot read " + file + ": " + fileProblem(e), e);
        }
        int lineLength = 0;   // content bytes of the current line, trimmed on the left
        int trailingSpace = 0;
        for (int i = 0; i <= buf.length; i++) {
            boolean end = i == buf.length;
            if (end && (lineLength == 0 || !p.wholeFile)) {
                if (!p.wholeFile && lineLength > maxLineLength) {
                    p.lines++;
                    p.oversized++;   // a cut-off line already over the bound is over it whole
                }
                break;
            }
            byte b = end ? (byte) '\n' : buf[i];
            if (b == 0) {
                throw refused(file, "cannot publish " + file + ": not a text file (a NUL byte at byte " + i
                        + (p.wholeFile ? "" : " of the first " + PREFIX_BYTES) + "; expected: one code "
                        + "per line)", null);
            }
            if (b == '\n') {
                int content = lineLength - trailingSpace;
                p.lines++;
                if (content > maxLineLength) {
                    p.oversized++;
                } else if (content > 0) {
                    p.codeLines++;
                }
                lineLength = 0;
                trailingSpace = 0;
            } else if (isWhitespace(b)) {
                if (lineLength > 0) {
                    lineLength++;
                    trailingSpace++;
                }
            } else {
                lineLength++;
                trailingSpace = 0;
            }
        }
        long withContent = p.codeLines + p.oversized;
        if (p.oversized > 0 && p.oversized > maxOversizedShare * withContent) {
            throw refused(file, "cannot publish " + file + ": not a coupon file (" + p.oversized + " of "
                    + withContent + " lines " + (p.wholeFile ? "" : "in the first " + PREFIX_BYTES
                    + " bytes ") + "are longer than " + maxLineLength + " bytes; expected: one code per line, "
                    + "at most " + Math.round(maxOversizedShare * 100) + " % of lines oversized)", null);
        }
        return p;
    }

    /**
     * The input's bytes, decompressed when it is gzip (by its name, or by its first two bytes, which are looked at
     * through a buffer and so stay in the stream).
     */
    public static InputStream open(Path file, InputStream raw) throws IOException {
        BufferedInputStream buffered = new BufferedInputStream(raw, CHUNK);
        return isGzip(file, buffered) ? new GZIPInputStream(buffered, CHUNK) : buffered;
    }

    private static boolean isGzip(Path file, BufferedInputStream in) throws IOException {
        if (file.toString().toLowerCase(Locale.ROOT).endsWith(".gz")) {
            return true;
        }
        in.mark(2);
        int b0 = in.read();
        int b1 = in.read();
        in.reset();
        return b0 == 0x1f && b1 == 0x8b;
    }

    /** Blank within a line: space, tab, carriage return, form feed, vertical tab. */
    public static boolean isWhitespace(byte b) {
        return b == ' ' || b == '\t' || b == '\r' || b == '\f' || b == 0x0b;
    }

    private static PublishException refused(Path file, String message, Throwable cause) {
        return new PublishException(file, 0, 0, message, cause);
    }

    /** An I/O failure in a few words: {@code no such file}, {@code permission denied}, the JDK's own message. */
    public static String fileProblem(IOException e) {
        if (e instanceof java.nio.file.NoSuchFileException) {
            return "no such file";
        }
        if (e instanceof java.nio.file.AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) {
            return f.getReason();
        }
        if (e instanceof java.util.zip.ZipException) {
            return "not valid gzip data (" + e.getMessage() + ")";
        }
        if (e instanceof java.io.EOFException) {
            return "truncated" + (e.getMessage() == null ? "" : ": " + e.getMessage());
        }
        return e.getMessage() == null ? "I/O error" : e.getMessage();
    }

    /** A throwable's message, or what it is in words when it has none: for people, no class names. */
    public static String words(Throwable t) {
        String m = t.getMessage();
        return m == null || m.isBlank() ? t.getClass().getSimpleName() : m;
    }
}
