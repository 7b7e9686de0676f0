package io.couponstate.spring.autoconfigure;

import java.util.Locale;
import java.util.function.Supplier;
import org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException;

/**
 * Turns the library's {@code name: value (expected: rule)} errors into Spring Boot's
 * {@link InvalidConfigurationPropertyValueException} naming the {@code couponstate.*} property, so a failed start
 * says which property to fix. The library's names are the builders' method names, and the properties are named
 * after them (kebab case), with the few exceptions below.
 */
final class PropertyErrors {

    private PropertyErrors() {
    }

    static <T> T check(Supplier<T> build) {
        try {
            return build.get();
        } catch (IllegalArgumentException e) {
            String message = String.valueOf(e.getMessage());
            throw new InvalidConfigurationPropertyValueException(propertyOf(message), valueOf(message), message);
        }
    }

    /** The property a library message names: its text before the first colon, in kebab case. */
    static String propertyOf(String message) {
        int colon = message.indexOf(':');
        String name = colon < 0 ? "" : message.substring(0, colon).trim();
        switch (name) {
            case "codeLength min":
                return CouponStateProperties.PREFIX + ".code-min-length";
            case "codeLength max":
                return CouponStateProperties.PREFIX + ".code-max-length";
            default:
                break;
        }
        if (name.startsWith("consumerProperty")) {
            return CouponStateProperties.PREFIX + ".consumer";
        }
        if (name.isEmpty() || !name.chars().allMatch(Character::isLetterOrDigit)) {
            return CouponStateProperties.PREFIX;
        }
        return CouponStateProperties.PREFIX + "." + kebab(name);
    }

    private static String valueOf(String message) {
        int colon = message.indexOf(':');
        int paren = message.indexOf(" (", colon + 1);
        if (colon < 0) {
            return "";
        }
        return (paren < 0 ? message.substring(colon + 1) : message.substring(colon + 1, paren)).trim();
    }

    private static String kebab(String camel) {
        StringBuilder out = new StringBuilder();
        for (char c : camel.toCharArray()) {
            if (Character.isUpperCase(c)) {
                out.append('-').append(Character.toLowerCase(c));
            } else {
                out.append(c);
            }
        }
        return out.toString().toLowerCase(Locale.ROOT);
    }
}
