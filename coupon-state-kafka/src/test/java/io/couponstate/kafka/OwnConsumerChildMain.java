package io.couponstate.kafka;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;

/**
 * The {@link OwnConsumerLoop} in a JVM of its own, for {@link OwnConsumerCrashIntegrationTest} to kill with SIGKILL.
 * Arguments: bootstrap servers, checkpoint directory, comma-separated topics, expected partition count. Prints
 * {@code RUNNING} once every partition is assigned; runs until killed, or halts when its stdin closes.
 */
public final class OwnConsumerChildMain {

    private OwnConsumerChildMain() {
    }

    /** Runs until killed. */
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        Path dir = Path.of(args[1]);
        List<String> topics = Arrays.asList(args[2].split(","));
        int partitions = Integer.parseInt(args[3]);
        CrashChildMain.haltWhenParentGoes();
        OwnConsumerLoop.consume(OwnConsumerLoop.config(bootstrap, "own-loop-" + UUID.randomUUID()), topics,
                CrashChildMain.journaledState(), dir, Duration.ofMillis(30), size -> {
                    if (size == partitions) {
                        System.out.println("RUNNING");
                        System.out.flush();
                    }
                }, (consumer, next) -> false);
        System.exit(4); // never reached: the loop runs until the parent kills us
    }
}
