package io.couponstate.examples.readme;

// README:kafka-streams:begin
import io.couponstate.kafka.streams.CouponQueries;
import io.couponstate.kafka.streams.CouponStores;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyQueryMetadata;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.query.QueryResult;
import org.apache.kafka.streams.query.StateQueryRequest;

/** A Kafka Streams application holding the coupon state in its tasks, and a query routed to the code's owner. */
public class KafkaStreamsExample {

    /** Starts the application: one source per topic, the processor, the store (changelog, standbys, image). */
    public static KafkaStreams start(String bootstrapServers, String thisHostPort) {
        CouponStores coupons = CouponStores.builder("coupons",
                List.of("couponbase1", "couponbase2", "couponbase3")).build();
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "coupons");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.put(StreamsConfig.APPLICATION_SERVER_CONFIG, thisHostPort);  // where queryMetadata sends callers
        props.put(StreamsConfig.NUM_STANDBY_REPLICAS_CONFIG, 1);           // a warm copy for failover
        KafkaStreams streams = new KafkaStreams(coupons.addTo(new Topology()), props);
        streams.start();
        return streams;
    }

    /** Answers for {@code code} if this instance owns it; otherwise says which host does. */
    public static String ask(KafkaStreams streams, String thisHostPort, String code) {
        KeyQueryMetadata where = CouponStores.queryMetadata(streams, "coupons", code); // case-folded, as published
        String owner = where.activeHost().host() + ":" + where.activeHost().port();
        if (!owner.equals(thisHostPort)) {
            return "ask " + owner;
        }
        QueryResult<CouponQueries.CodeAnswer> result = streams.query(StateQueryRequest.inStore("coupons")
                .withQuery(CouponQueries.code(code)).withPartitions(Set.of(where.partition())))
                .getPartitionResults().get(where.partition());
        return result.isSuccess() ? result.getResult().toString() : result.getFailureMessage();
    }
}
// README:kafka-streams:end
