package io.couponstate.examples;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code serve --mode partitioned}: usage errors, found before any broker is asked (ServeCommandTest runs it). */
class ServePartitionedTest {

    @Test
    void partitionedWithoutAdvertise_onAWildcardHost_isAUsageError() {
        Cli.Run run = Cli.run("serve", "--mode", "partitioned", "--host", "0.0.0.0", "--port", "0");
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(run.err()).contains("serve: --advertise: required with --mode partitioned when --host is the "
                + "wildcard address 0.0.0.0");
    }

    @ParameterizedTest
    @ValueSource(strings = {"nohost", "host:0", "host:65536", ":8080", "host:port", "::1:8080", "a b:80"})
    void badAdvertise_isAUsageErrorNamingIt(String value) {
        Cli.Run run = Cli.run("serve", "--mode", "partitioned", "--advertise", value, "--port", "0");
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(run.err()).contains("serve: --advertise: \"" + value + "\" (expected: host:port with a port in "
                + "1..65535");
    }

    @Test
    void badMode_isAUsageError() {
        Cli.Run run = Cli.run("serve", "--mode", "sharded");
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(run.err()).contains("--mode").contains("sharded");
    }

    @Test
    void partitionedWithMissingTopicsAllowed_isAUsageError() {
        Cli.Run run = Cli.run("serve", "--mode", "partitioned", "--allow-missing-topics", "--port", "0");
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(run.err()).contains("--allow-missing-topics: not with --mode partitioned");
    }
}
