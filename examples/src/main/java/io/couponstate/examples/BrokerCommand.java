package io.couponstate.examples;

import io.couponstate.kafka.testing.EmbeddedKafkaBroker;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Runs a single-node KRaft broker in this JVM until stopped (Ctrl-C, SIGTERM, or the thread interrupted). */
@Command(name = "broker", mixinStandardHelpOptions = true,
        header = "Runs a real single-node Kafka broker (KRaft) in this JVM until stopped.",
        description = "Prints its address on one line, bootstrap.servers=HOST:PORT, then runs until Ctrl-C.")
final class BrokerCommand implements Callable<Integer> {

    private static final String LOOPBACK = "127.0.0.1";

    @Spec
    CommandSpec spec;

    @Option(names = "--host", paramLabel = "HOST", description = "The address clients connect to (default: "
            + "${DEFAULT-VALUE}); 0.0.0.0 listens on every interface and advertises this machine's name.",
            defaultValue = LOOPBACK)
    String host;

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
            throw new CommandFailure("--port: " + port + " (expected: 0..65535)", ExitCodes.USAGE);
        }
        if (dataDir != null) {
            Files.createDirectories(dataDir);
        }
        Map<String, String> overrides = new HashMap<>();
        String advertised = LOOPBACK;
        int clientPort = port;
        if (!LOOPBACK.equals(host)) {
            // the broker listens on HOST and tells clients to come back to it there; the controller stays on the
            // loopback interface, it is only this broker's own quorum
            boolean any = host.equals("0.0.0.0") || host.equals("::");
            advertised = any ? InetAddress.getLocalHost().getCanonicalHostName() : host;
            clientPort = port == 0 ? freePort(host) : port;
            int controllerPort = freePort(LOOPBACK);
            overrides.put("listeners", "PLAINTEXT://" + host + ":" + clientPort + ",CONTROLLER://" + LOOPBACK + ":"
                    + controllerPort);
            overrides.put("advertised.listeners", "PLAINTEXT://" + advertised + ":" + clientPort);
            overrides.put("controller.quorum.voters", "1@" + LOOPBACK + ":" + controllerPort);
        }
        try (StopSignal stop = new StopSignal("broker-shutdown");
             EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(clientPort, dataDir, overrides)) {
            PrintWriter out = spec.commandLine().getOut();
            out.println("bootstrap.servers=" + advertised + ":" + broker.port());
            out.flush();
            stop.await();
        }
        return ExitCodes.OK;
    }

    private static int freePort(String host) throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(host, 0));
            return s.getLocalPort();
        } catch (IOException e) {
            throw new CommandFailure("--host " + Messages.cut(host) + ": cannot listen there ("
                    + Messages.describe(e) + ")", ExitCodes.USAGE);
        }
    }
}
