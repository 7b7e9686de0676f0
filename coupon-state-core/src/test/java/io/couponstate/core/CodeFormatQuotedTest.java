package io.couponstate.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class CodeFormatQuotedTest {

    @Test
    void quoted_cutsAt40_escapesWhatCannotBePrinted_andMatchesTheRejectionMessage() {
        assertThat(CodeFormat.quoted("BIRTHDAY")).isEqualTo("\"BIRTHDAY\"");
        assertThat(CodeFormat.quoted("A\nB\u00e9")).isEqualTo("\"A\\u000aB\\u00e9\"");
        String long50 = "X".repeat(50);
        assertThat(CodeFormat.quoted(long50)).isEqualTo("\"" + "X".repeat(40) + "...\"");
        CodeFormat format = CodeFormat.of(8, 10, false);
        assertThatThrownBy(() -> format.encode("BAD\tCODE1")).isInstanceOf(InvalidCouponCodeException.class)
                .hasMessageStartingWith("coupon code " + CodeFormat.quoted("BAD\tCODE1") + ": ");
    }
}
