package io.couponstate.examples;

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
}
