package io.couponstate.kafka.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.common.utils.internals.Exit;

/**
 * A real single-node Apache Kafka broker (KRaft, broker and controller in one) running inside this JVM, for tests,
 * the demo and benchmarks. Not thread-safe; one owner starts and stops it.
 *
 * <p>{@link #stop()} and {@link #start()} again keep the data directory and the ports, so a test can take the broker
 * away mid-stream and bring it back with its data. {@link #close()} stops it and deletes the directory unless it was
 * given by the caller.
 */
public final class EmbeddedKafkaBroker implements AutoCloseable {

    private static volatile boolean exitGuarded;

    private final Path dataDir;
    private final boolean ownsDataDir;
    private final int port;
    private final int controllerPort;
    private final Map<String, String> overrides;
    private KafkaRaftServer server;

    private EmbeddedKafkaBroker(Path dataDir, boolean ownsDataDir, int port, Map<String, String> overrides) {
        this.dataDir = dataDir;
        this.ownsDataDir = ownsDataDir;
        this.port = port == 0 ? freePort() : port;
        this.controllerPort = freePort();
        this.overrides = Map.copyOf(overrides);
    }

    /**
     * Starts a broker on a free port in a new temporary directory.
     *
     * @return the running broker
     */
    public static EmbeddedKafkaBroker start() {
        return start(0, null, Map.of());
    }

    /**
     * Starts a broker.
     *
     * @param port the client port, or 0 for a free one
     * @param dataDir the log directory (kept on close), or null for a temporary one (deleted on close)
     * @param overrides broker properties to set on top of the single-node defaults
     * @return the running broker
     */
    public static EmbeddedKafkaBroker start(int port, Path dataDir, Map<String, String> overrides) {
        try {
            boolean owns = dataDir == null;
            Path dir = owns ? Files.createTempDirectory("couponstate-kafka-") : dataDir;
            EmbeddedKafkaBroker broker = new EmbeddedKafkaBroker(dir, owns, port, overrides);
            broker.startServer();
            return broker;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * {@code 127.0.0.1:PORT}.
     *
     * @return {@code 127.0.0.1:PORT}
     */
    public String bootstrapServers() {
        return "127.0.0.1:" + port;
    }

    /**
     * The port of the broker's PLAINTEXT listener.
     *
     * @return the port clients connect to
     */
    public int port() {
        return port;
    }

    /**
     * The broker's log directory.
     *
     * @return the directory the broker keeps its data in
     */
    public Path dataDir() {
        return dataDir;
    }

    /**
     * Whether the broker runs now (started and not stopped).
     *
     * @return {@code true} between a start and a stop
     */
    public boolean isRunning() {
        return server != null;
    }

    /** Starts the broker again after {@link #stop()}, with the same data directory and ports. */
    public synchronized void restart() {
        if (server == null) {
            startServer();
        }
    }

    /** Stops the broker, keeping its data directory. */
    public synchronized void stop() {
        KafkaRaftServer s = server;
        server = null;
        if (s != null) {
            s.shutdown();
            s.awaitShutdown();
        }
    }

    @Override
    public synchronized void close() {
        stop();
        if (ownsDataDir) {
            deleteRecursively(dataDir);
        }
    }

    private synchronized void startServer() {
        guardExit();
        Properties props = new Properties();
        props.put("process.roles", "broker,controller");
        props.put("node.id", "1");
        props.put("controller.quorum.voters", "1@127.0.0.1:" + controllerPort);
        props.put("listeners", "PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort);
        props.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + port);
        props.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        props.put("controller.listener.names", "CONTROLLER");
        props.put("inter.broker.listener.name", "PLAINTEXT");
        props.put("log.dirs", dataDir.resolve("logs").toString());
        props.put("offsets.topic.replication.factor", "1");
        props.put("offsets.topic.num.partitions", "1");
        props.put("transaction.state.log.replication.factor", "1");
        props.put("transaction.state.log.min.isr", "1");
        props.put("share.coordinator.state.topic.replication.factor", "1");
        props.put("share.coordinator.state.topic.min.isr", "1");
        props.put("group.initial.rebalance.delay.ms", "0");
        props.put("num.partitions", "1");
        props.put("auto.create.topics.enable", "false");
        props.putAll(overrides);
        try {
            if (!Files.exists(dataDir.resolve("logs").resolve("meta.properties"))) {
                format(props);
            }
            KafkaRaftServer s = new KafkaRaftServer(KafkaConfig.fromProps(props, false), Time.SYSTEM);
            s.startup();
            server = s;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void format(Properties props) throws IOException {
        Path config = dataDir.resolve("server.properties");
        try (var out = Files.newOutputStream(config)) {
            props.store(out, "couponstate embedded broker");
        }
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        int rc = StorageTool.execute(new String[] {
            "format", "--cluster-id", Uuid.randomUuid().toString(), "--config", config.toString(), "--ignore-formatted"
        }, new PrintStream(log, true, StandardCharsets.UTF_8));
        if (rc != 0) {
            throw new IllegalStateException("formatting " + dataDir + " failed (exit " + rc + "): " + log);
        }
    }

    /** The broker halts the JVM on fatal faults; in a test JVM, throw instead. Internal Kafka API: version pinned. */
    private static void guardExit() {
        if (!exitGuarded) {
            exitGuarded = true;
            Exit.setExitProcedure((code, message) -> {
                throw new IllegalStateException("Kafka broker asked to exit(" + code + "): " + message);
            });
            Exit.setHaltProcedure((code, message) -> {
                throw new IllegalStateException("Kafka broker asked to halt(" + code + "): " + message);
            });
        }
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            socket.setReuseAddress(true);
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void deleteRecursively(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // best effort: a temp directory left behind is not worth failing a test for
        }
    }
}
