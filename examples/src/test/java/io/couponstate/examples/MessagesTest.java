package io.couponstate.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.TypeConversionException;

class MessagesTest {

    @Test
    void describe_joinsCausesWithoutRepeatsOrClassNames() {
        IllegalStateException inner = new IllegalStateException("checkpoint directory is locked");
        RuntimeException wrapper = new RuntimeException("runner r1 FAILED: java.lang.IllegalStateException: "
                + "checkpoint directory is locked", inner);
        assertThat(Messages.describe(wrapper)).isEqualTo("runner r1 FAILED: checkpoint directory is locked");
        assertThat(Messages.describe(new IOException("outer", new IOException("inner"))))
                .isEqualTo("outer: inner");
        assertThat(Messages.describe(new NullPointerException())).isEqualTo("NullPointerException");
    }

    @Test
    void describe_saysFileProblemsInWords() {
        assertThat(Messages.describe(new NoSuchFileException("/x/y.txt"))).isEqualTo("/x/y.txt: no such file");
    }

    @Test
    void cut_boundsEchoedInput() {
        assertThat(Messages.cut("short")).isEqualTo("short");
        String cut = Messages.cut("x".repeat(1000));
        assertThat(cut).startsWith("x".repeat(61) + "...").doesNotContain("x".repeat(62)).endsWith("(1000 characters)");
    }

    @Test
    void durations_readTheUsualForms() {
        DurationConverter c = new DurationConverter();
        assertThat(c.convert("500ms")).isEqualTo(Duration.ofMillis(500));
        assertThat(c.convert("30s")).isEqualTo(Duration.ofSeconds(30));
        assertThat(c.convert("5m")).isEqualTo(Duration.ofMinutes(5));
        assertThat(c.convert("2h")).isEqualTo(Duration.ofHours(2));
        assertThat(c.convert("PT1M30S")).isEqualTo(Duration.ofSeconds(90));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> c.convert("soon"))
                .isInstanceOf(TypeConversionException.class).hasMessageContaining("expected: a duration");
        assertThat(DurationConverter.describe(Duration.ofSeconds(30))).isEqualTo("30 s");
        assertThat(DurationConverter.describe(Duration.ofMinutes(2))).isEqualTo("2 min");
    }
}
