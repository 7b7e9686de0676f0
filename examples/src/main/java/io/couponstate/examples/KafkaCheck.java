package io.couponstate.examples;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.common.KafkaException;

/**
 * What the CLI asks a cluster before it starts anything: does a broker answer at all (an Admin client's
 * {@code describeCluster} within {@code --wait}), and do the topics exist. Without it, a consumer pointed at a port
 * with no broker retries quietly for as long as it is allowed to, and a misspelled topic is simply never caught up.
 */
final class KafkaCheck implements AutoCloseable {

    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(2);

    private final String bootstrapServers;
    private final Duration wait;
    private final Admin admin;

    private KafkaCheck(String bootstrapServers, Map<String, String> properties, Duration wait) {
        this.bootstrapServers = bootstrapServers;
        this.wait = wait;
        Map<String, Object> config = new HashMap<>(properties);
        config.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        config.put(AdminClientConfig.CLIENT_ID_CONFIG, "coupon-state-cli-check");
        int ms = (int) Math.min(Integer.MAX_VALUE, Math.max(1, wait.toMillis()));
        config.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, ms);
        config.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, Math.min(ms, 30_000));
        try {
            this.admin = Admin.create(config);
        } catch (KafkaException e) {
            // typically "No resolvable bootstrap urls given in bootstrap.servers"
            String why = Messages.describe(e);
            throw unreachable(bootstrapServers, why.contains("No resolvable bootstrap urls")
                    ? "unknown host: no bootstrap address resolves" : why.replace("Failed to create new "
                    + "KafkaAdminClient: ", ""));
        }
    }

    /**
     * Connects and waits up to {@code wait} for a broker to answer; the returned check can then look at topics.
     *
     * @throws CommandFailure {@code cannot reach a Kafka broker at HOST:PORT (short cause)}
     */
    static KafkaCheck reachable(KafkaOptions kafka) {
        return reachable(kafka.bootstrapServers, kafka.properties, kafka.wait);
    }

    /** The same for a command with its own options (demo). */
    static KafkaCheck reachable(String bootstrapServers, Map<String, String> properties, Duration wait) {
        KafkaCheck check = new KafkaCheck(bootstrapServers, properties, wait);
        try {
            check.describeCluster();
            return check;
        } catch (RuntimeException e) {
            check.close();
            throw e;
        }
    }

    private void describeCluster() {
        int ms = (int) Math.min(Integer.MAX_VALUE, Math.max(1, wait.toMillis()));
        try {
            admin.describeCluster(new DescribeClusterOptions().timeoutMs(ms)).clusterId()
                    .get(wait.toMillis() + 10_000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof org.apache.kafka.common.errors.TimeoutException) {
                throw unreachable(bootstrapServers, whyNoAnswer());
            }
            throw unreachable(bootstrapServers, Messages.describe(cause));
        } catch (TimeoutException e) {
            throw unreachable(bootstrapServers, whyNoAnswer());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CommandFailure("interrupted while waiting for a Kafka broker at " + bootstrapServers,
                    ExitCodes.STOPPED);
        }
    }

    /**
     * Fails naming every topic of {@code topics} that does not exist, unless {@code allowMissing}; then returns
     * them, for a warning.
     */
    List<String> requireTopics(Collection<String> topics, boolean allowMissing) {
        Set<String> existing;
        try {
            existing = admin.listTopics(new ListTopicsOptions().timeoutMs((int) Math.min(Integer.MAX_VALUE,
                    wait.toMillis()))).names().get(wait.toMillis() + 10_000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new CommandFailure("cannot list the topics at " + bootstrapServers + " ("
                    + Messages.describe(e.getCause()) + ")");
        } catch (TimeoutException e) {
            throw new CommandFailure("cannot list the topics at " + bootstrapServers + " (no answer within "
                    + DurationConverter.describe(wait) + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CommandFailure("interrupted while listing topics", ExitCodes.STOPPED);
        }
        List<String> missing = new ArrayList<>();
        for (String topic : topics) {
            if (!existing.contains(topic)) {
                missing.add(topic);
            }
        }
        if (missing.isEmpty() || allowMissing) {
            return missing;
        }
        Set<String> shown = new TreeSet<>();
        for (String name : existing) {
            if (!name.startsWith("__") && shown.size() < 10) {
                shown.add(name);
            }
        }
        throw new CommandFailure((missing.size() == 1 ? "topic " + missing.get(0) + " does not exist"
                : "topics " + String.join(", ", missing) + " do not exist") + " at " + bootstrapServers
                + " (existing: " + (shown.isEmpty() ? "none" : String.join(", ", shown)
                + (existing.size() > shown.size() ? ", ..." : "")) + "); check --topics, or pass "
                + "--allow-missing-topics to wait for " + (missing.size() == 1 ? "it" : "them"));
    }

    /**
     * The partition count of each of {@code topics} (which must exist), in the given order; fails naming the topics
     * and their counts unless they are all equal (partitioned mode needs co-partitioned topics).
     */
    int commonPartitionCount(List<String> topics) {
        Map<String, org.apache.kafka.clients.admin.TopicDescription> described;
        try {
            described = admin.describeTopics(topics, new org.apache.kafka.clients.admin.DescribeTopicsOptions()
                    .timeoutMs((int) Math.min(Integer.MAX_VALUE, wait.toMillis()))).allTopicNames()
                    .get(wait.toMillis() + 10_000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new CommandFailure("cannot describe the topics " + String.join(", ", topics) + " at "
                    + bootstrapServers + " (" + Messages.describe(e.getCause()) + ")");
        } catch (TimeoutException e) {
            throw new CommandFailure("cannot describe the topics at " + bootstrapServers + " (no answer within "
                    + DurationConverter.describe(wait) + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CommandFailure("interrupted while describing topics", ExitCodes.STOPPED);
        }
        Map<String, Integer> counts = new java.util.LinkedHashMap<>();
        for (String topic : topics) {
            counts.put(topic, described.get(topic).partitions().size());
        }
        if (counts.values().stream().distinct().count() != 1) {
            StringBuilder shown = new StringBuilder();
            counts.forEach((t, n) -> shown.append(shown.length() == 0 ? "" : ", ").append(t).append(' ').append(n));
            throw new CommandFailure("the topics are not co-partitioned: partitions per topic: " + shown
                    + " (expected: the same partition count for every topic in partitioned mode)");
        }
        return counts.values().iterator().next();
    }

    static CommandFailure unreachable(String bootstrapServers, String cause) {
        return new CommandFailure("cannot reach a Kafka broker at " + bootstrapServers + " (" + cause + ")");
    }

    /**
     * Why the admin client got no answer, in a few words: a plain TCP connect to each bootstrap address tells a
     * refused port or an unknown host from a port that accepts connections but does not speak (this client's)
     * Kafka.
     */
    private String whyNoAnswer() {
        String waited = "no answer within " + DurationConverter.describe(wait);
        List<String> reasons = new ArrayList<>();
        for (String address : bootstrapServers.split(",")) {
            String a = address.strip();
            int colon = a.lastIndexOf(':');
            if (colon <= 0) {
                continue;
            }
            String host = a.substring(0, colon).replace("[", "").replace("]", "");
            int port;
            try {
                port = Integer.parseInt(a.substring(colon + 1));
            } catch (NumberFormatException e) {
                continue;
            }
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(host, port), (int) PROBE_TIMEOUT.toMillis());
                reasons.add(a + " accepts connections but gave no Kafka answer: check the port and "
                        + "security.protocol");
            } catch (ConnectException e) {
                reasons.add("connection refused");
            } catch (UnknownHostException e) {
                reasons.add("unknown host " + host);
            } catch (SocketTimeoutException e) {
                reasons.add("connect timed out");
            } catch (NoRouteToHostException e) {
                reasons.add("no route to host");
            } catch (IOException e) {
                reasons.add(Messages.describe(e));
            }
        }
        List<String> distinct = reasons.stream().distinct().toList();
        return distinct.isEmpty() ? waited : String.join("; ", distinct) + "; " + waited;
    }

    @Override
    public void close() {
        admin.close(Duration.ofSeconds(1));
    }
}
