package io.couponstate.examples;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** {@code --code-length MIN..MAX} (or one number for both). */
record CodeLength(int min, int max) {

    @Override
    public String toString() {
        return min + ".." + max;
    }

    /** Reads {@code 8..10} or {@code 8}; the bounds are checked against 1..12. */
    static final class Converter implements ITypeConverter<CodeLength> {
        private static final Pattern RANGE = Pattern.compile("(\\d{1,2})(?:\\.\\.(\\d{1,2}))?");

        @Override
        public CodeLength convert(String value) {
            Matcher m = RANGE.matcher(value.strip());
            if (!m.matches()) {
                throw new TypeConversionException("'" + Messages.cut(value) + "' (expected: MIN..MAX, e.g. 8..10)");
            }
            int min = Integer.parseInt(m.group(1));
            int max = m.group(2) == null ? min : Integer.parseInt(m.group(2));
            if (min < 1 || max > 12 || min > max) {
                throw new TypeConversionException("'" + value + "' (expected: 1 <= MIN <= MAX <= 12)");
            }
            return new CodeLength(min, max);
        }
    }
}
