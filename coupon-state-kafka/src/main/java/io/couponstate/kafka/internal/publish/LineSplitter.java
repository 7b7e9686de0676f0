package io.couponstate.kafka.internal.publish;

import java.io.IOException;
import java.io.InputStream;

/**
 * Splits a stream into lines by hand, in {@value FileCheck#CHUNK}-byte chunks, so that a line is never a String and
 * an oversized line costs no memory beyond the bound: leading blanks are dropped, trailing ones trimmed, and a line
 * with content past {@code maxLineLength} bytes is reported as too long without its bytes. Not thread-safe.
 */
public final class LineSplitter {

    /** Told of each line, in order. */
    @FunctionalInterface
    public interface LineSink {
        /**
         * One line: its content is {@code line[0, contentLength)} (valid only during the call; 0 for a blank line),
         * or {@code tooLong} with no content.
         */
        void line(byte[] line, int contentLength, boolean tooLong) throws IOException;
    }

    private final byte[] chunk = new byte[FileCheck.CHUNK];
    private final byte[] line;

    /** A splitter of lines up to {@code maxLineLength} bytes. */
    public LineSplitter(int maxLineLength) {
        this.line = new byte[maxLineLength];
    }

    /** Reads {@code in} to its end, telling {@code sink} of every line (a last line without a newline too). */
    public void split(InputStream in, LineSink sink) throws IOException {
        int len = 0;                 // bytes in line: content, possibly followed by white space
        int contentLen = 0;          // bytes in line up to its last non-white byte
        boolean spaceBeyond = false; // white space seen past the bound: harmless unless content follows
        boolean tooLong = false;
        int n;
        while ((n = in.read(chunk)) > 0) {
            for (int i = 0; i < n; i++) {
                byte b = chunk[i];
                if (b == '\n') {
                    sink.line(line, contentLen, tooLong);
                    len = 0;
                    contentLen = 0;
                    spaceBeyond = false;
                    tooLong = false;
                } else if (tooLong) {
                    continue;
                } else if (FileCheck.isWhitespace(b)) {
                    if (len == 0) {
                        continue;
                    }
                    if (len < line.length) {
                        line[len++] = b;
                    } else {
                        spaceBeyond = true;
                    }
                } else if (spaceBeyond || len == line.length) {
                    tooLong = true;
                } else {
                    line[len++] = b;
                    contentLen = len;
                }
            }
        }
        if (len > 0 || tooLong) {
            sink.line(line, contentLen, tooLong);
        }
    }
}
