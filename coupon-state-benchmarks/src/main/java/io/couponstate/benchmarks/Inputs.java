package io.couponstate.benchmarks;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * Precomputed benchmark input: {@code codes} distinct codes of 8 to 10 characters and a shuffled list of
 * observations of them in three sources. Each code is in each source with probability 0.35, redrawn until it is in
 * at least one, so there are about 1.45 observations per code and about 20% of the codes end up in two or more
 * sources. Deterministic for a seed. Immutable after construction; safe to share between threads.
 *
 * <p>What the implementations are handed is laid out the way a consumer receives it: the code bytes of observation
 * {@code i} sit in arrival order in {@link #obsPacked} (like the values of a fetched batch), and the STRING path gets
 * a fresh String per observation, allocated in arrival order (as {@code StringDeserializer} makes one per record).
 * So reading an input costs every implementation the same sequential access, and the measured differences are the
 * states' own.
 */
public final class Inputs {

    /** Number of sources. */
    public static final int SOURCES = 3;
    /** Probability that a code is in a given source. */
    public static final double IN_SOURCE = 0.35;

    private static final byte[] ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".getBytes(StandardCharsets.US_ASCII);
    private static final long SPACE_8 = 2_821_109_907_456L; // 36^8
    private static final long STEP = 1_000_003L;            // prime, coprime with 36: i -> i * STEP mod 36^8 is 1:1

    /** Number of distinct codes. */
    public final int codes;
    /** All codes packed back to back as ASCII; code {@code c} is {@code packed[offsets[c], offsets[c + 1])}. */
    public final byte[] packed;
    /** Start of each code in {@link #packed}, plus the end as the last element. */
    public final int[] offsets;
    /** Each code as a String, or null when built without strings. */
    public final String[] strings;
    /** Observation {@code i} is code {@code obsCode[i]} in source {@code obsSource[i]}. */
    public final int[] obsCode;
    /** See {@link #obsCode}. */
    public final byte[] obsSource;
    /** The code bytes of every observation in arrival order: observation {@code i} is at {@code obsOffsets[i]}. */
    public final byte[] obsPacked;
    /** Start of each observation's code in {@link #obsPacked}, plus the end as the last element. */
    public final int[] obsOffsets;
    /** A String per observation, in arrival order (the STRING path), or null when built without strings. */
    public final String[] obsStrings;

    /**
     * Builds the input.
     *
     * @param codes       distinct codes
     * @param withStrings also materialize each code as a String (the STRING path)
     * @param padTo       pad the observation count up to a multiple of this with re-observations (1: no padding)
     * @param seed        the random seed
     */
    public Inputs(int codes, boolean withStrings, int padTo, long seed) {
        this.codes = codes;
        SplittableRandom random = new SplittableRandom(seed);
        this.offsets = new int[codes + 1];
        byte[] packed = new byte[codes * 10];
        int at = 0;
        for (int c = 0; c < codes; c++) {
            offsets[c] = at;
            // the first 8 characters are an affine bijection of c, so codes are distinct by construction
            long x = ((long) c * STEP + 12_345) % SPACE_8;
            for (int d = 0; d < 8; d++) {
                packed[at++] = ALPHABET[(int) (x % 36)];
                x /= 36;
            }
            int extra = random.nextInt(3); // 8, 9 or 10 characters
            for (int d = 0; d < extra; d++) {
                packed[at++] = ALPHABET[random.nextInt(36)];
            }
        }
        offsets[codes] = at;
        this.packed = java.util.Arrays.copyOf(packed, at);
        if (withStrings) {
            strings = new String[codes];
            for (int c = 0; c < codes; c++) {
                strings[c] = new String(this.packed, offsets[c], offsets[c + 1] - offsets[c], StandardCharsets.US_ASCII);
            }
        } else {
            strings = null;
        }

        int[] obsCode = new int[codes * 2];
        byte[] obsSource = new byte[codes * 2];
        int n = 0;
        for (int c = 0; c < codes; c++) {
            int mask;
            do {
                mask = 0;
                for (int s = 0; s < SOURCES; s++) {
                    if (random.nextDouble() < IN_SOURCE) {
                        mask |= 1 << s;
                    }
                }
            } while (mask == 0);
            for (int s = 0; s < SOURCES; s++) {
                if ((mask & (1 << s)) != 0) {
                    if (n == obsCode.length) {
                        obsCode = java.util.Arrays.copyOf(obsCode, n + n / 2);
                        obsSource = java.util.Arrays.copyOf(obsSource, n + n / 2);
                    }
                    obsCode[n] = c;
                    obsSource[n] = (byte) s;
                    n++;
                }
            }
        }
        for (int i = n - 1; i > 0; i--) { // Fisher-Yates, both arrays in step
            int j = random.nextInt(i + 1);
            int tc = obsCode[i];
            obsCode[i] = obsCode[j];
            obsCode[j] = tc;
            byte ts = obsSource[i];
            obsSource[i] = obsSource[j];
            obsSource[j] = ts;
        }
        int padded = (n + padTo - 1) / padTo * padTo;
        this.obsCode = java.util.Arrays.copyOf(obsCode, padded);
        this.obsSource = java.util.Arrays.copyOf(obsSource, padded);
        for (int i = n; i < padded; i++) { // padding re-observes the first observations: no new codes
            this.obsCode[i] = this.obsCode[i - n];
            this.obsSource[i] = this.obsSource[i - n];
        }
        this.obsOffsets = new int[padded + 1];
        int total = 0;
        for (int i = 0; i < padded; i++) {
            obsOffsets[i] = total;
            total += offsets[this.obsCode[i] + 1] - offsets[this.obsCode[i]];
        }
        obsOffsets[padded] = total;
        this.obsPacked = new byte[total];
        for (int i = 0; i < padded; i++) {
            int c = this.obsCode[i];
            System.arraycopy(this.packed, offsets[c], obsPacked, obsOffsets[i], offsets[c + 1] - offsets[c]);
        }
        if (withStrings) {
            obsStrings = new String[padded];
            for (int i = 0; i < padded; i++) {
                obsStrings[i] = new String(obsPacked, obsOffsets[i], obsOffsets[i + 1] - obsOffsets[i],
                        StandardCharsets.US_ASCII);
            }
        } else {
            obsStrings = null;
        }
    }

    /** Number of observations (including padding). */
    public int observations() {
        return obsCode.length;
    }

    /** Applies observations {@code [from, to)} through the String path; returns a sink. */
    public int applyStrings(StateFacade state, int from, int to) {
        final String[] obsStrings = this.obsStrings;
        final byte[] obsSource = this.obsSource;
        int sink = 0;
        for (int i = from; i < to; i++) {
            sink += state.add(obsStrings[i], obsSource[i]);
        }
        return sink;
    }

    /** Applies observations {@code [from, to)} through the byte path; returns a sink. */
    public int applyBytes(StateFacade state, int from, int to) {
        final byte[] obsPacked = this.obsPacked;
        final int[] obsOffsets = this.obsOffsets;
        final byte[] obsSource = this.obsSource;
        int sink = 0;
        for (int i = from; i < to; i++) {
            int off = obsOffsets[i];
            sink += state.add(obsPacked, off, obsOffsets[i + 1] - off, obsSource[i]);
        }
        return sink;
    }

    /** Applies observations {@code [from, to)} as one batch through the byte path; returns a sink. */
    public int applyBytesBatched(io.couponstate.core.CouponState state, io.couponstate.core.ObservationBatch batch,
            int from, int to) {
        final byte[] obsPacked = this.obsPacked;
        final int[] obsOffsets = this.obsOffsets;
        final byte[] obsSource = this.obsSource;
        int[] ids = idsOf(state);
        batch.clear();
        for (int i = from; i < to; i++) {
            int off = obsOffsets[i];
            batch.add(obsPacked, off, obsOffsets[i + 1] - off, ids[obsSource[i]]);
        }
        return state.addObservations(batch);
    }

    /**
     * Applies observations {@code [from, to)} as one batch, each String copied into {@code scratch} as bytes first
     * (the inputs are ASCII; a caller with arbitrary text would check); returns a sink.
     */
    public int applyStringsBatched(io.couponstate.core.CouponState state, io.couponstate.core.ObservationBatch batch,
            byte[] scratch, int from, int to) {
        final String[] obsStrings = this.obsStrings;
        final byte[] obsSource = this.obsSource;
        int[] ids = idsOf(state);
        batch.clear();
        for (int i = from; i < to; i++) {
            String code = obsStrings[i];
            int length = Math.min(code.length(), scratch.length);
            for (int c = 0; c < length; c++) {
                scratch[c] = (byte) code.charAt(c);
            }
            batch.add(scratch, 0, length, ids[obsSource[i]]);
        }
        return state.addObservations(batch);
    }

    /** The source ids of {@link StateFacade#SOURCE_NAMES} in {@code state} (a few map lookups per batch). */
    private static int[] idsOf(io.couponstate.core.CouponState state) {
        int[] ids = IDS.get();
        for (int s = 0; s < ids.length; s++) {
            ids[s] = state.sourceId(StateFacade.SOURCE_NAMES[s]);
        }
        return ids;
    }

    private static final ThreadLocal<int[]> IDS = ThreadLocal.withInitial(() -> new int[3]);
}
