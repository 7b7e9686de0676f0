package io.couponstate.kafka.streams;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.TreeSet;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.ThreadMetadata;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;

/**
 * One {@link KafkaStreams} instance of {@link CouponStoresIntegrationTest}'s topology in a JVM of its own, for the test
 * to kill with SIGKILL. Arguments: bootstrap servers, application id, state directory, comma-separated topics,
 * application.server endpoint, standby replicas, session timeout in ms. Prints
 * {@code STATUS <state> active=[..] standby=[..] processed=<n>} whenever one of them changes; runs until killed, or
 * halts when its stdin closes (the test's JVM is gone).
 */
public final class CouponStreamsChildMain {

    private CouponStreamsChildMain() {
    }

    /** Runs until killed. */
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        String app = args[1];
        Path stateDir = Path.of(args[2]);
        List<String> topics = Arrays.asList(args[3].split(","));
        haltWhenParentGoes();
        Properties p = CouponStoresIntegrationTest.streamsProps(bootstrap, app, stateDir, args[4],
                Integer.parseInt(args[6]));
        p.put(StreamsConfig.NUM_STANDBY_REPLICAS_CONFIG, Integer.parseInt(args[5]));
        CouponStores coupons = CouponStores.builder(CouponStoresIntegrationTest.STORE, topics)
                .imageInterval(Duration.ZERO).build();
        KafkaStreams streams = new KafkaStreams(coupons.addTo(new Topology()), p);
        streams.setUncaughtExceptionHandler(e -> {
            e.printStackTrace();
            Runtime.getRuntime().halt(5);
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.start();
        String last = "";
        while (true) { // a status line per change, until killed: the test waits on these lines, not on time
            TreeSet<String> active = new TreeSet<>();
            TreeSet<String> standby = new TreeSet<>();
            KafkaStreams.State state = streams.state();
            if (state == KafkaStreams.State.RUNNING || state == KafkaStreams.State.REBALANCING) {
                for (ThreadMetadata t : streams.metadataForLocalThreads()) {
                    t.activeTasks().forEach(task -> active.add(task.taskId().toString()));
                    t.standbyTasks().forEach(task -> standby.add(task.taskId().toString()));
                }
            }
            String status = "STATUS " + state + " active=" + active + " standby=" + standby + " processed="
                    + coupons.recordsProcessed();
            if (!status.equals(last)) {
                System.out.println(status);
                System.out.flush();
                last = status;
            }
            Thread.sleep(20);
        }
    }

    private static void haltWhenParentGoes() {
        Thread watchdog = new Thread(() -> {
            try {
                while (System.in.read() >= 0) {
                    // nothing: only the end of the stream matters
                }
            } catch (Exception e) {
                // fall through
            }
            Runtime.getRuntime().halt(3);
        }, "stdin-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
    }
}
