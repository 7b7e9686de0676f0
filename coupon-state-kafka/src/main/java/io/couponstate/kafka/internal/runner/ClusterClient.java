package io.couponstate.kafka.internal.runner;

import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeTopicsOptions;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.TimeoutException;

/**
 * The cluster questions the runner asks off its poll thread: end offsets (for {@code awaitCaughtUp}, from the
 * caller's thread, so that a long poll never starves a waiter) and topic ids (at discovery). Implementations are
 * thread-safe; each call blocks at most its timeout and throws a {@link KafkaException} (a {@link TimeoutException}
 * on timeout) when it cannot answer.
 */
public interface ClusterClient extends AutoCloseable {

    /**
     * The end offset of each partition as the runner's consumer sees it: the high watermark under
     * {@code read_uncommitted} (the consumer's default), the last stable offset under {@code read_committed}.
     */
    Map<TopicPartition, Long> endOffsets(Collection<TopicPartition> partitions, Duration timeout)
            throws InterruptedException;

    /** The id of each topic that exists; a topic that does not is left out. */
    Map<String, Uuid> topicIds(Collection<String> topics, Duration timeout) throws InterruptedException;

    /** Releases the connections; never throws. */
    @Override
    void close();

    /** An {@link Admin} client made from the consumer's settings (connection and security keys only). */
    static ClusterClient admin(Map<String, Object> consumerConfig, String clientId) {
        return new AdminClusterClient(consumerConfig, clientId);
    }

    /** The {@link Admin}-backed implementation. */
    final class AdminClusterClient implements ClusterClient {

        private final Admin admin;
        private final IsolationLevel isolation;

        AdminClusterClient(Map<String, Object> consumerConfig, String clientId) {
            Map<String, Object> config = new HashMap<>();
            // only keys an admin client knows: bootstrap, security, timeouts; the rest would be logged as unknown
            consumerConfig.forEach((k, v) -> {
                if (AdminClientConfig.configNames().contains(k)) {
                    config.put(k, v);
                }
            });
            config.put(AdminClientConfig.CLIENT_ID_CONFIG, clientId);
            this.admin = Admin.create(config);
            Object level = consumerConfig.get(ConsumerConfig.ISOLATION_LEVEL_CONFIG);
            this.isolation = level != null && "read_committed".equalsIgnoreCase(String.valueOf(level))
                    ? IsolationLevel.READ_COMMITTED : IsolationLevel.READ_UNCOMMITTED;
        }

        @Override
        public Map<TopicPartition, Long> endOffsets(Collection<TopicPartition> partitions, Duration timeout)
                throws InterruptedException {
            Map<TopicPartition, OffsetSpec> request = new HashMap<>();
            for (TopicPartition tp : partitions) {
                request.put(tp, OffsetSpec.latest());
            }
            ListOffsetsOptions options = new ListOffsetsOptions(isolation).timeoutMs(millis(timeout));
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> info =
                    get(admin.listOffsets(request, options).all(), timeout);
            Map<TopicPartition, Long> out = new HashMap<>();
            info.forEach((tp, i) -> out.put(tp, i.offset()));
            return out;
        }

        @Override
        public Map<String, Uuid> topicIds(Collection<String> topics, Duration timeout) throws InterruptedException {
            Map<String, Uuid> out = new HashMap<>();
            var values = admin.describeTopics(topics, new DescribeTopicsOptions().timeoutMs(millis(timeout)))
                    .topicNameValues();
            for (var e : values.entrySet()) {
                try {
                    TopicDescription d = get(e.getValue(), timeout);
                    out.put(e.getKey(), d.topicId());
                } catch (org.apache.kafka.common.errors.UnknownTopicOrPartitionException gone) {
                    // left out: the caller decides whether a missing topic is an error
                }
            }
            return out;
        }

        private static <T> T get(org.apache.kafka.common.KafkaFuture<T> future, Duration timeout)
                throws InterruptedException {
            try {
                // a little past the request's own timeout, so the request's TimeoutException wins when it fires
                return future.get(timeout.toMillis() + 1_000, TimeUnit.MILLISECONDS);
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof KafkaException) {
                    throw (KafkaException) cause;
                }
                throw new KafkaException(cause);
            } catch (java.util.concurrent.TimeoutException e) {
                throw new TimeoutException("no answer from the cluster within " + timeout, e);
            }
        }

        private static int millis(Duration d) {
            return (int) Math.min(Integer.MAX_VALUE, Math.max(1, d.toMillis()));
        }

        @Override
        public void close() {
            try {
                admin.close(Duration.ofSeconds(5));
            } catch (RuntimeException e) {
                // nothing to do: the connections are released on a best-effort basis
            }
        }
    }
}
