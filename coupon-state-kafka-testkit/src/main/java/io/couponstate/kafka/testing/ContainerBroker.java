package io.couponstate.kafka.testing;

import org.testcontainers.DockerClientFactory;
import org.testcontainers.kafka.KafkaContainer;
import org.testcontainers.utility.DockerImageName;

/**
 * A Kafka broker in a Docker container (Testcontainers), for runs that opt in where a Docker engine exists. Kept
 * apart from {@link KafkaBrokerExtension} so that a classpath without Testcontainers never loads it.
 */
final class ContainerBroker implements AutoCloseable {

    /** The image; the same Kafka line as the client and the in-JVM broker. */
    static final String IMAGE = System.getProperty("couponstate.kafka.image", "apache/kafka:4.1.0");

    private final KafkaContainer container;

    private ContainerBroker(KafkaContainer container) {
        this.container = container;
    }

    /** Whether a Docker engine answers here (about half a second when none does). */
    static boolean dockerAvailable() {
        return DockerClientFactory.instance().isDockerAvailable();
    }

    /** Starts a container; call only when {@link #dockerAvailable()}. */
    static ContainerBroker start() {
        KafkaContainer container = new KafkaContainer(DockerImageName.parse(IMAGE));
        container.start();
        return new ContainerBroker(container);
    }

    String bootstrapServers() {
        return container.getBootstrapServers();
    }

    @Override
    public void close() {
        container.stop();
    }
}
