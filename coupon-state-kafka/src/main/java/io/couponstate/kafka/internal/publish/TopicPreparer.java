package io.couponstate.kafka.internal.publish;

import java.io.IOException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The publisher's topics: creates a missing one (its partition count, {@code retention.ms=-1}) and waits until every
 * partition has a leader, or, with creation off, requires it to exist; each topic once. The admin client is made on
 * first use. Not thread-safe: the publishing thread uses it.
 */
public final class TopicPreparer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger("io.couponstate.kafka.CouponFilePublisher");

    private final String bootstrapServers;
    private final Map<String, Object> clientProperties;
    private final int partitions;
    private final Optional<Short> replicationFactor;
    private final boolean createTopics;
    private final Set<String> topicsChecked = new HashSet<>();
    private Admin admin;

    /** Topics on {@code bootstrapServers}, the admin client configured with {@code clientProperties}. */
    public TopicPreparer(String bootstrapServers, Map<String, Object> clientProperties, int partitions,
            Optional<Short> replicationFactor, boolean createTopics) {
        this.bootstrapServers = bootstrapServers;
        this.clientProperties = Map.copyOf(clientProperties);
        this.partitions = partitions;
        this.replicationFactor = replicationFactor;
        this.createTopics = createTopics;
    }

    /**
     * Makes sure {@code topic} exists (created if missing and creation is on) with a leader for every partition.
     *
     * @throws IOException in words when it cannot be created or described, or is missing with creation off
     */
    public void ensure(String topic) throws IOException {
        if (topicsChecked.contains(topic)) {
            return;
        }
        if (admin == null) {
            Map<String, Object> config = new HashMap<>(clientProperties);
            config.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
            config.put(AdminClientConfig.CLIENT_ID_CONFIG, "coupon-file-publisher-admin");
            admin = Admin.create(config);
        }
        if (!createTopics) {
            requireTopic(topic);
            topicsChecked.add(topic);
            return;
        }
        NewTopic newTopic = new NewTopic(topic, Optional.of(partitions), replicationFactor)
                .configs(Map.of("retention.ms", "-1"));
        try {
            admin.createTopics(List.of(newTopic)).all().get(2, TimeUnit.MINUTES);
            LOG.info("created topic {} with {} partitions and retention.ms=-1", topic, partitions);
            awaitLeaders(topic);
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) {
                throw new IOException("topic " + topic + ": could not be created or described: "
                        + FileCheck.words(e.getCause()), e.getCause());
            }
        } catch (TimeoutException e) {
            throw new IOException("topic " + topic + ": creating it timed out (is " + bootstrapServers
                    + " reachable?): " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("topic " + topic + ": interrupted while creating it", e);
        }
        topicsChecked.add(topic);
    }

    /** With topic creation off: the topic must exist, else nothing is sent (the producer would block a minute). */
    private void requireTopic(String topic) throws IOException {
        try {
            admin.describeTopics(List.of(topic)).allTopicNames().get(2, TimeUnit.MINUTES);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof UnknownTopicOrPartitionException) {
                throw new IOException("topic " + topic + " does not exist, and creating topics is off");
            }
            throw new IOException("topic " + topic + ": could not be described: " + FileCheck.words(e.getCause()),
                    e.getCause());
        } catch (TimeoutException e) {
            throw new IOException("topic " + topic + ": describing it timed out (is " + bootstrapServers
                    + " reachable?)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("topic " + topic + ": interrupted while describing it", e);
        }
    }

    /** A just-created topic answers NOT_LEADER_OR_FOLLOWER for a moment; wait until every partition has a leader. */
    private void awaitLeaders(String topic) throws ExecutionException, TimeoutException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
        while (true) {
            try {
                TopicDescription description = admin.describeTopics(List.of(topic)).allTopicNames()
                        .get(1, TimeUnit.MINUTES).get(topic);
                boolean ready = description.partitions().stream()
                        .allMatch(p -> p.leader() != null && !p.leader().isEmpty());
                if (ready) {
                    return;
                }
            } catch (ExecutionException e) {
                // right after creation the broker's metadata may not know the topic yet: ask again
                if (!(e.getCause() instanceof UnknownTopicOrPartitionException)) {
                    throw e;
                }
            }
            if (System.nanoTime() > deadline) {
                throw new TimeoutException("partitions of " + topic + " still have no leader after 1 minute");
            }
            Thread.sleep(50);
        }
    }

    /** Closes the admin client, if one was made. */
    @Override
    public void close() {
        if (admin != null) {
            try {
                admin.close();
            } catch (RuntimeException e) {
                LOG.warn("closing the admin client failed", e);
            }
        }
    }
}
