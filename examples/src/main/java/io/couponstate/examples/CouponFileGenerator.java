package io.couponstate.examples;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.zip.GZIPOutputStream;

/**
 * Writes three coupon files shaped like the reference data set: file {@code i} (1..3) holds random codes of length
 * {@code 7 + i} (so no random code can appear in two files), plus a few planted codes at random lines, so that exactly
 * {@link #PLANTED_VALID} are valid (seen in at least two files). Random codes that collide with a planted code are
 * drawn again. The same seed always gives the same files. Not thread-safe; stateless apart from its arguments.
 */
public final class CouponFileGenerator {

    /** How many files are written. */
    public static final int FILES = 3;

    /** Planted in every file. */
    public static final List<String> IN_ALL_FILES =
            List.of("BIRTHDAY", "BUYGETON", "FIFTYOFF", "FREEZAAA", "GNULINUX", "OVER9000", "SIXTYOFF");

    /** Planted in files 1 and 3 only. */
    public static final String IN_FILES_1_AND_3 = "HAPPYHRS";

    /** A decoy in file 1 only: looks like a promo code, is not valid. */
    public static final String DECOY_FILE_1 = "SUPER100";

    /** A decoy in file 2 only: looks like a promo code, is not valid. */
    public static final String DECOY_FILE_2 = "MOODYHRS";

    /** The codes that are valid in the generated data, sorted: the seven in all files and HAPPYHRS. */
    public static final List<String> PLANTED_VALID = List.of(
            "BIRTHDAY", "BUYGETON", "FIFTYOFF", "FREEZAAA", "GNULINUX", "HAPPYHRS", "OVER9000", "SIXTYOFF");

    private static final Set<String> SPECIAL = Set.of("BIRTHDAY", "BUYGETON", "FIFTYOFF", "FREEZAAA", "GNULINUX",
            "HAPPYHRS", "OVER9000", "SIXTYOFF", DECOY_FILE_1, DECOY_FILE_2);
    private static final byte[] ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".getBytes();

    private CouponFileGenerator() {
    }

    /** The name of file {@code index} (1..3): {@code couponbase<index>.txt}, or {@code .gz} when gzipped. */
    public static String fileName(int index, boolean gzip) {
        checkIndex(index);
        return "couponbase" + index + (gzip ? ".gz" : ".txt");
    }

    /** The codes planted in file {@code index} (1..3), decoys included. */
    public static List<String> plantedIn(int index) {
        checkIndex(index);
        List<String> codes = new ArrayList<>(IN_ALL_FILES);
        if (index == 1 || index == 3) {
            codes.add(IN_FILES_1_AND_3);
        }
        if (index == 1) {
            codes.add(DECOY_FILE_1);
        }
        if (index == 2) {
            codes.add(DECOY_FILE_2);
        }
        return codes;
    }

    /**
     * Writes the three files into {@code dir} (created if missing), replacing files of the same names.
     *
     * @param codesPerFile random codes per file, planted codes not counted; at least 0
     * @param seed the seed of the random codes and of the planted codes' lines
     * @param gzip whether to gzip the files
     * @return the three files, in order
     */
    public static List<Path> generate(Path dir, int codesPerFile, long seed, boolean gzip) throws IOException {
        Objects.requireNonNull(dir, "dir");
        if (codesPerFile < 0) {
            throw new IllegalArgumentException("codesPerFile: " + codesPerFile + " (expected: >= 0)");
        }
        Files.createDirectories(dir);
        List<Path> files = new ArrayList<>(FILES);
        for (int i = 1; i <= FILES; i++) {
            Path file = dir.resolve(fileName(i, gzip));
            writeFile(file, i, codesPerFile, new SplittableRandom(seed * 1_000_003L + i), gzip);
            files.add(file);
        }
        return files;
    }

    private static void writeFile(Path file, int index, int codesPerFile, SplittableRandom random, boolean gzip)
            throws IOException {
        int length = 7 + index;
        record Planted(String code, int line) { }
        List<Planted> planted = new ArrayList<>();
        for (String code : plantedIn(index)) {
            planted.add(new Planted(code, random.nextInt(codesPerFile + 1)));
        }
        planted.sort(Comparator.comparingInt(Planted::line));

        OutputStream raw = Files.newOutputStream(file);
        try (OutputStream out = new BufferedOutputStream(gzip ? new GZIPOutputStream(raw, 1 << 16) : raw, 1 << 20)) {
            byte[] line = new byte[length + 1];
            line[length] = '\n';
            int next = 0;
            for (int n = 0; n <= codesPerFile; n++) {
                while (next < planted.size() && planted.get(next).line() == n) {
                    out.write((planted.get(next++).code() + "\n").getBytes());
                }
                if (n == codesPerFile) {
                    break;
                }
                do {
                    for (int c = 0; c < length; c++) {
                        line[c] = ALPHABET[random.nextInt(ALPHABET.length)];
                    }
                } while (length == 8 && SPECIAL.contains(new String(line, 0, length)));
                out.write(line);
            }
        }
    }

    private static void checkIndex(int index) {
        if (index < 1 || index > FILES) {
            throw new IllegalArgumentException("file index: " + index + " (expected: 1.." + FILES + ")");
        }
    }
}
