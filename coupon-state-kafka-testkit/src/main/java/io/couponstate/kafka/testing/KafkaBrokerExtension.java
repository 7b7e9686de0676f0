package io.couponstate.kafka.testing;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real Kafka broker shared by every test of a class: started before the class's own {@code @BeforeAll} methods,
 * closed (and its data deleted) after the class. Register it on a static field:
 * <pre>{@code @RegisterExtension static final KafkaBrokerExtension KAFKA = new KafkaBrokerExtension();}</pre>
 *
 * <p>By default the broker is an in-JVM KRaft node ({@link EmbeddedKafkaBroker}), which needs nothing but the
 * classpath. With {@code -Dcouponstate.kafka.backend=testcontainers} a Kafka container is used instead, but only
 * where a Docker engine answers; elsewhere the run says so and falls back to the in-JVM broker, so the suite never
 * depends on Docker. Tests that stop and restart the broker use {@link #embedded()}.
 */
public final class KafkaBrokerExtension implements BeforeAllCallback, AfterAllCallback {

    /** The system property that picks the backend: {@code embedded} (default) or {@code testcontainers}. */
    public static final String BACKEND_PROPERTY = "couponstate.kafka.backend";

    private static final Logger LOG = LoggerFactory.getLogger(KafkaBrokerExtension.class);

    private final boolean embeddedOnly;
    private EmbeddedKafkaBroker broker;
    private ContainerBroker container;

    /** The backend chosen by {@value #BACKEND_PROPERTY}. */
    public KafkaBrokerExtension() {
        this(false);
    }

    private KafkaBrokerExtension(boolean embeddedOnly) {
        this.embeddedOnly = embeddedOnly;
    }

    /**
     * Always the in-JVM broker: for tests that stop and restart it.
     *
     * @return always the in-JVM broker: for tests that stop and restart it
     */
    public static KafkaBrokerExtension embedded() {
        return new KafkaBrokerExtension(true);
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        start(System.getProperty(BACKEND_PROPERTY, "embedded"));
    }

    /** Starts the broker for {@code backend} ({@code embedded} or {@code testcontainers}). */
    void start(String backend) {
        if (!backend.equals("embedded") && !backend.equals("testcontainers")) {
            throw new IllegalArgumentException(
                    BACKEND_PROPERTY + ": " + backend + " (expected: embedded or testcontainers)");
        }
        if (backend.equals("testcontainers") && !embeddedOnly) {
            if (dockerAvailable()) {
                container = ContainerBroker.start();
                LOG.info("Kafka broker: container {} at {}", ContainerBroker.IMAGE, container.bootstrapServers());
                return;
            }
            LOG.warn("{}=testcontainers but no Docker engine answers here: using the in-JVM broker", BACKEND_PROPERTY);
        }
        broker = EmbeddedKafkaBroker.start();
    }

    /** Whether a Docker engine answers; false too where Testcontainers is not on the classpath (other modules). */
    static boolean dockerAvailable() {
        try {
            return ContainerBroker.dockerAvailable();
        } catch (LinkageError e) {
            LOG.warn("Testcontainers is not on this module's test classpath ({})", e.toString());
            return false;
        }
    }

    @Override
    public void afterAll(ExtensionContext context) {
        stop();
    }

    void stop() {
        if (container != null) {
            container.close();
            container = null;
        }
        if (broker != null) {
            broker.close();
            broker = null;
        }
    }

    /**
     * Whether this class runs against a container rather than the in-JVM broker.
     *
     * @return whether this class runs against a container rather than the in-JVM broker
     */
    public boolean usesContainer() {
        return container != null;
    }

    /**
     * The in-JVM broker (for stop/restart); IllegalStateException when none runs.
     *
     * @return the in-JVM broker (for stop/restart); IllegalStateException when none runs
     */
    public EmbeddedKafkaBroker broker() {
        if (broker == null) {
            throw new IllegalStateException("broker: no in-JVM broker runs (use KafkaBrokerExtension.embedded() "
                    + "on a static field for tests that stop and restart it)");
        }
        return broker;
    }

    /**
     * {@code host:port} of the broker.
     *
     * @return {@code host:port} of the broker
     */
    public String bootstrapServers() {
        if (container != null) {
            return container.bootstrapServers();
        }
        return broker().bootstrapServers();
    }
}
