package io.couponstate.examples;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Option;

/** Options shared by the commands that talk to a Kafka cluster. */
final class KafkaOptions {

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT[,HOST:PORT...]",
            description = "The Kafka cluster (default: ${DEFAULT-VALUE}).", defaultValue = "127.0.0.1:9092")
    String bootstrapServers;

    @Option(names = {"-X", "--property"}, paramLabel = "NAME=VALUE",
            description = "A Kafka client property, e.g. -X security.protocol=SASL_SSL; repeatable.")
    Map<String, String> properties = new LinkedHashMap<>();

    @Option(names = "--wait", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "How long to wait for a broker to answer before giving up with 'cannot reach a Kafka "
            + "broker at ...' (default: ${DEFAULT-VALUE}; e.g. 500ms, 30s, 5m).", defaultValue = "30s")
    Duration wait = Duration.ofSeconds(30);
}
