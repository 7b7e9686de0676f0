package io.couponstate.kafka.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("integration")
class KafkaBrokerExtensionTest {

    @Test
    void testcontainersBackend_usesAContainerOnlyWhereDockerAnswers_andOtherwiseTheInJvmBroker() throws Exception {
        KafkaBrokerExtension extension = new KafkaBrokerExtension();
        extension.start("testcontainers");
        try {
            assertThat(extension.usesContainer()).isEqualTo(KafkaBrokerExtension.dockerAvailable());
            try (Admin admin = Admin.create(Map.<String, Object>of("bootstrap.servers", extension.bootstrapServers()))) {
                admin.createTopics(List.of(new NewTopic("backend-check", 1, (short) 1))).all().get();
                // the broker learns the topic from the controller a moment after createTopics returns: wait for it
                await().atMost(Duration.ofMinutes(1))
                        .untilAsserted(() -> assertThat(admin.listTopics().names().get()).contains("backend-check"));
            }
        } finally {
            extension.stop();
        }
    }

    @Test
    void embedded_ignoresTheBackendProperty_soStopAndRestartAlwaysWork() {
        KafkaBrokerExtension extension = KafkaBrokerExtension.embedded();
        extension.start("testcontainers");
        try {
            assertThat(extension.usesContainer()).isFalse();
            assertThat(extension.broker().isRunning()).isTrue();
        } finally {
            extension.stop();
        }
    }

    @Test
    void anUnknownBackend_isRejectedNamingTheProperty() {
        assertThatThrownBy(() -> new KafkaBrokerExtension().start("docker"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("couponstate.kafka.backend: docker (expected: embedded or testcontainers)");
    }
}
