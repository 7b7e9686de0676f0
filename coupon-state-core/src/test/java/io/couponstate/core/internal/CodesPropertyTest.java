package io.couponstate.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/** Codec properties; jqwik prints the seed of every property run, so a failure is reproducible. */
class CodesPropertyTest {

    private static final String ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

    @Provide
    Arbitrary<String> codes() {
        return Arbitraries.strings().withChars(ALPHABET.toCharArray()).ofMinLength(1).ofMaxLength(12);
    }

    @Property(tries = 5000)
    void roundTrip_ofEveryCodeInTheFormat(@ForAll("codes") String code) {
        long key = Codes.encode(code, 1, 12, false);
        assertThat(key).isPositive();
        assertThat(Codes.decode(key)).isEqualTo(code);
        assertThat(Codes.length(key)).isEqualTo(code.length());
        byte[] bytes = code.getBytes(StandardCharsets.US_ASCII);
        assertThat(Codes.encode(bytes, 0, bytes.length, 1, 12, false)).isEqualTo(key);
        if (code.length() <= 10) {
            assertThat(key).isLessThan(1L << 52);
        }
    }

    @Property(tries = 5000)
    void distinctCodes_haveDistinctNumbers(@ForAll("codes") String a, @ForAll("codes") String b) {
        if (!a.equals(b)) {
            assertThat(Codes.encode(a, 1, 12, false)).isNotEqualTo(Codes.encode(b, 1, 12, false));
        }
    }

    @Property(tries = 3000)
    void codesWithACharacterOutsideTheAlphabet_areRejected(
            @ForAll("codes") String code, @ForAll @IntRange(min = 0, max = 11) int at, @ForAll char bad) {
        if (ALPHABET.indexOf(bad) >= 0 || code.isEmpty()) {
            return;
        }
        int i = at % code.length();
        String broken = code.substring(0, i) + bad + code.substring(i + 1);
        assertThat(Codes.encode(broken, 1, 12, false)).isNegative();
        boolean foldable = bad >= 'a' && bad <= 'z';
        assertThat(Codes.encode(broken, 1, 12, true) > 0).isEqualTo(foldable);
    }

    @Property(tries = 2000)
    void lengthsOutsideTheFormat_areRejected(@ForAll("codes") String code,
            @ForAll @IntRange(min = 1, max = 12) int min, @ForAll @IntRange(min = 0, max = 11) int span) {
        int max = Math.min(12, min + span);
        boolean fits = code.length() >= min && code.length() <= max;
        assertThat(Codes.encode(code, min, max, false) > 0).isEqualTo(fits);
    }

    @Example
    void codesDifferingOnlyInLength_areDistinct() {
        long a = Codes.encode("A", 1, 12, false);
        long zeroA = Codes.encode("0A", 1, 12, false);
        long aZero = Codes.encode("A0", 1, 12, false);
        long aa = Codes.encode("AA", 1, 12, false);
        assertThat(java.util.List.of(a, zeroA, aZero, aa)).doesNotHaveDuplicates().allMatch(k -> k > 0);
        assertThat(Codes.decode(zeroA)).isEqualTo("0A");
    }

    @Example
    void theLargestCodes_fitTheirWords() {
        assertThat(Codes.encode("ZZZZZZZZZZ", 1, 12, false)).isLessThan(1L << 52);
        assertThat(Codes.encode("ZZZZZZZZZZZZ", 1, 12, false)).isPositive(); // below 2^63: no overflow
    }
}
