package io.couponstate.examples.readme;

// README:secure-cluster:begin
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.kafka.CouponConsumerRunner;
import io.couponstate.kafka.CouponFilePublisher;
import java.util.List;

/** Security settings go to the runner as consumer properties, to the publisher as client properties. */
public class SecureClusterExample {

    /** A runner for a SASL_SSL cluster; built, not started (building connects to nothing). */
    static CouponConsumerRunner runner(String password) {
        return CouponConsumerRunner.builder()
                .bootstrapServers("broker1.example.com:9093,broker2.example.com:9093")
                .groupId("ordering-service")
                .topics(List.of("couponbase1", "couponbase2", "couponbase3"))
                .state(new LockFreeCouponState())
                .consumerProperty("security.protocol", "SASL_SSL")
                .consumerProperty("sasl.mechanism", "SCRAM-SHA-512")
                .consumerProperty("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule "
                        + "required username=\"coupons\" password=\"" + password + "\";")
                .consumerProperty("ssl.truststore.location", "/etc/kafka/truststore.jks")
                .consumerProperty("ssl.truststore.password", password)
                .build();
    }

    /** The same settings for the publisher: its producer and its admin client (which creates topics) use them. */
    static CouponFilePublisher.Builder publisher(String password) {
        return CouponFilePublisher.builder()
                .bootstrapServers("broker1.example.com:9093,broker2.example.com:9093")
                .clientProperty("security.protocol", "SASL_SSL")
                .clientProperty("sasl.mechanism", "SCRAM-SHA-512")
                .clientProperty("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule "
                        + "required username=\"coupons\" password=\"" + password + "\";")
                .clientProperty("ssl.truststore.location", "/etc/kafka/truststore.jks")
                .clientProperty("ssl.truststore.password", password);
    }

    /** Builds the runner (without connecting) and prints what it would do. */
    public static void main(String[] args) {
        try (CouponConsumerRunner runner = runner(args.length > 0 ? args[0] : "...")) {
            System.out.println("built " + runner + " in state " + runner.runnerState());
        }
    }
}
// README:secure-cluster:end
