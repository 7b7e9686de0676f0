package io.couponstate.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * Codec properties over seeded random inputs. The seed of each test is printed before it runs; rerun one with
 * {@code -Dcouponstate.seed=N} to get the same inputs. {@code -Dcouponstate.property.tries=N} scales the tries.
 */
class CodesPropertyTest {

    private static final String ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    private static final int TRIES = Integer.getInteger("couponstate.property.tries", 5000);

    private SplittableRandom random;

    @BeforeEach
    void seed(TestInfo info) {
        long seed = Long.getLong("couponstate.seed", System.nanoTime());
        System.out.println(info.getDisplayName() + ": seed " + seed + " (rerun with -Dcouponstate.seed=" + seed + ")");
        random = new SplittableRandom(seed);
    }

    /** A code of 1..12 characters of the alphabet, every length equally likely. */
    private String code() {
        int length = 1 + random.nextInt(12);
        StringBuilder sb = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            sb.append(ALPHABET.charAt(random.nextInt(ALPHABET.length())));
        }
        return sb.toString();
    }

    @Test
    void lengthBounds_areTheFirstAndLastNumbersOfEachLength() {
        for (int length = 1; length <= Codes.MAX_LENGTH; length++) {
            long first = Codes.firstOfLength(length);
            long last = Codes.lastOfLength(length);
            assertThat(Codes.decode(first)).isEqualTo("0".repeat(length));
            assertThat(Codes.decode(last)).isEqualTo("Z".repeat(length));
            assertThat(Codes.length(first - 1)).isEqualTo(length - 1);
            assertThat(Codes.length(last + 1)).isEqualTo(length + 1);
        }
    }

    @Test
    void roundTrip_ofEveryCodeInTheFormat() {
        for (int t = 0; t < TRIES; t++) {
            String code = code();
            long key = Codes.encode(code, 1, 12, false);
            assertThat(key).as(code).isPositive();
            assertThat(Codes.decode(key)).isEqualTo(code);
            assertThat(Codes.length(key)).isEqualTo(code.length());
            byte[] bytes = code.getBytes(StandardCharsets.US_ASCII);
            assertThat(Codes.encode(bytes, 0, bytes.length, 1, 12, false)).as(code).isEqualTo(key);
            if (code.length() <= 10) {
                assertThat(key).as(code).isLessThan(1L << 52);
            }
        }
    }

    @Test
    void distinctCodes_haveDistinctNumbers() {
        for (int t = 0; t < TRIES; t++) {
            String a = code();
            // half the pairs share a prefix, so near misses are tried as well as random pairs
            String b = random.nextBoolean() ? code() : a.substring(0, random.nextInt(a.length() + 1)) + code();
            if (b.length() > 12) {
                b = b.substring(0, 12);
            }
            if (!a.equals(b)) {
                assertThat(Codes.encode(a, 1, 12, false)).as(a + " vs " + b)
                        .isNotEqualTo(Codes.encode(b, 1, 12, false));
            }
        }
    }

    @Test
    void codesWithACharacterOutsideTheAlphabet_areRejected() {
        for (int t = 0; t < TRIES; t++) {
            String code = code();
            char bad = (char) random.nextInt(Character.MAX_VALUE + 1);
            if (ALPHABET.indexOf(bad) >= 0) {
                continue;
            }
            int i = random.nextInt(code.length());
            String broken = code.substring(0, i) + bad + code.substring(i + 1);
            assertThat(Codes.encode(broken, 1, 12, false)).as(broken).isNegative();
            boolean foldable = bad >= 'a' && bad <= 'z';
            assertThat(Codes.encode(broken, 1, 12, true) > 0).as(broken).isEqualTo(foldable);
        }
        // lower case letters are rare among all chars: try each of them at least once
        for (char bad = 'a'; bad <= 'z'; bad++) {
            String broken = code() + bad;
            if (broken.length() <= 12) {
                assertThat(Codes.encode(broken, 1, 12, false)).as(broken).isNegative();
                assertThat(Codes.encode(broken, 1, 12, true)).as(broken).isPositive();
            }
        }
    }

    @Test
    void lengthsOutsideTheFormat_areRejected() {
        for (int t = 0; t < TRIES; t++) {
            String code = code();
            int min = 1 + random.nextInt(12);
            int max = Math.min(12, min + random.nextInt(12));
            boolean fits = code.length() >= min && code.length() <= max;
            assertThat(Codes.encode(code, min, max, false) > 0).as(code + " in " + min + ".." + max).isEqualTo(fits);
        }
    }

    @Test
    void codesDifferingOnlyInLength_areDistinct() {
        long a = Codes.encode("A", 1, 12, false);
        long zeroA = Codes.encode("0A", 1, 12, false);
        long aZero = Codes.encode("A0", 1, 12, false);
        long aa = Codes.encode("AA", 1, 12, false);
        assertThat(List.of(a, zeroA, aZero, aa)).doesNotHaveDuplicates().allMatch(k -> k > 0);
        assertThat(Codes.decode(zeroA)).isEqualTo("0A");
    }

    @Test
    void theLargestCodes_fitTheirWords() {
        assertThat(Codes.encode("ZZZZZZZZZZ", 1, 12, false)).isLessThan(1L << 52);
        assertThat(Codes.encode("ZZZZZZZZZZZZ", 1, 12, false)).isPositive(); // below 2^63: no overflow
    }
}
