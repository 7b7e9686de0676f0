package io.couponstate.examples;

import io.couponstate.kafka.testing.EmbeddedKafkaBroker;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Runs a single-node KRaft broker in this JVM until stopped (Ctrl-C, SIGTERM, or the thread interrupted). */
@Command(name = "broker", mixinStandardHelpOptions = true,
        header = "Runs a real single-node Kafka broker (KRaft) in this JVM until stopped.",
        description = "Prints its address on one line, bootstrap.servers=127.0.0.1:PORT, then runs until Ctrl-C.")
final class BrokerCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--port", paramLabel = "PORT",
            description = "The client port; 0 for a free one (default: ${DEFAULT-VALUE}).",
            defaultValue = "9092")
    int port;

    @Option(names = "--data-dir", paramLabel = "DIR", description = "The broker's log directory, kept after exit "
            + "(default: a temporary directory, deleted at exit).")
    Path dataDir;

    @Override
    public Integer call() throws Exception {
        if (port < 0 || port > 65_535) {
            throw new IllegalArgumentException("--port: " + port + " (expected: 0..65535)");
        }
        if (dataDir != null) {
            Files.createDirectories(dataDir);
        }
        try (StopSignal stop = new StopSignal("broker-shutdown");
             EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(port, dataDir, Map.of())) {
            PrintWriter out = spec.commandLine().getOut();
            out.println("bootstrap.servers=" + broker.bootstrapServers());
            out.flush();
            stop.await();
        }
        return 0;
    }
}
