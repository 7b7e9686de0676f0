package io.couponstate.examples.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.couponstate.kafka.CouponConsumerRunner;
import io.couponstate.kafka.testing.KafkaBrokerExtension;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;

/**
 * The sample service as it runs: the whole application on the in-JVM broker, asked over real HTTP. One context for
 * the whole story (before the topics exist, after catch-up, when checkpoints fail), so the class costs one start.
 */
class CouponSampleApplicationTest {

    @RegisterExtension
    static final KafkaBrokerExtension KAFKA = new KafkaBrokerExtension();

    private static final Duration WAIT = Duration.ofSeconds(90);
    private static final ObjectMapper JSON = JsonMapper.builder().build();

    @TempDir
    Path tmp;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private int port;

    @Test
    void readinessIsOutOfServiceUntilCaughtUp_thenCouponsAreServed_andFailingCheckpointsTakeOnlyReadinessDown()
            throws Exception {
        String bootstrap = KAFKA.bootstrapServers();
        List<String> topics = List.of("sample-base1", "sample-base2");
        Path checkpoints = tmp.resolve("checkpoints");
        // the topics do not exist yet: the runner waits for them, so the state is incomplete for as long as needed
        ConfigurableApplicationContext app = SpringApplication.run(CouponSampleApplication.class,
                "--server.port=0",
                "--spring.kafka.bootstrap-servers=" + bootstrap,
                "--couponstate.topics=" + String.join(",", topics),
                "--couponstate.allow-missing-topics=true",
                "--couponstate.partition-discovery-interval=500ms",
                "--couponstate.poll-timeout=100ms",
                "--couponstate.checkpoint-directory=" + checkpoints,
                "--couponstate.checkpoint-interval=1s");
        try {
            port = Integer.parseInt(app.getEnvironment().getProperty("local.server.port"));

            HttpResponse<String> readiness = get("/actuator/health/readiness");
            System.out.println("before catch-up: GET /actuator/health/readiness -> " + readiness.statusCode() + " "
                    + readiness.body());
            assertThat(readiness.statusCode()).isEqualTo(503);
            assertThat(json(readiness).get("status").asString()).isEqualTo("OUT_OF_SERVICE");
            assertThat(get("/actuator/health/liveness").statusCode()).isEqualTo(200);
            HttpResponse<String> early = get("/coupons/BIRTHDAY1");
            assertThat(early.statusCode()).isEqualTo(503);
            assertThat(early.headers().firstValue("Retry-After")).hasValue("1");
            assertThat(json(early).get("error").asString()).startsWith("not ready: CATCHING_UP");
            CouponLookup lookup = app.getBean(CouponLookup.class);
            assertThat(lookup.isValid("BIRTHDAY1")).isEmpty();

            createAndSend(bootstrap, topics, Map.of(
                    topics.get(0), List.of("BIRTHDAY1", "SINGLE001"),
                    topics.get(1), List.of("BIRTHDAY1")));
            await().atMost(WAIT).until(() -> get("/actuator/health/readiness").statusCode() == 200);
            readiness = get("/actuator/health/readiness");
            // UP means caught up with what the partitions held when they were assigned: partition discovery may
            // have found the topics before the records were sent, so wait for the records as well
            await().atMost(WAIT).until(() -> json(get("/actuator/health")).get("components").get("couponState")
                    .get("details").get("validCodes").asLong() == 1);
            System.out.println("after catch-up:  GET /actuator/health/readiness -> " + readiness.statusCode() + " "
                    + readiness.body());
            assertThat(json(readiness).get("status").asString()).isEqualTo("UP");

            JsonNode details = json(get("/actuator/health")).get("components").get("couponState").get("details");
            assertThat(details.get("phase").asString()).isEqualTo("UP");
            assertThat(details.get("lag").asLong()).isZero();
            assertThat(details.get("durable").asBoolean()).isTrue();
            assertThat(details.get("validCodes").asLong()).isEqualTo(1);

            HttpResponse<String> valid = get("/coupons/BIRTHDAY1");
            assertThat(valid.statusCode()).isEqualTo(200);
            assertThat(valid.body())
                    .isEqualTo("{\"code\":\"BIRTHDAY1\",\"valid\":true,\"sources\":[\"sample-base1\",\"sample-base2\"]}");
            assertThat(lookup.isValid("BIRTHDAY1")).hasValue(true);
            assertThat(lookup.isValid("SINGLE001")).hasValue(false);
            assertThat(get("/coupons/SINGLE001").body())
                    .isEqualTo("{\"code\":\"SINGLE001\",\"valid\":false,\"sources\":[\"sample-base1\"]}");
            assertThat(get("/coupons/NEVERSEEN").body())
                    .isEqualTo("{\"code\":\"NEVERSEEN\",\"valid\":false,\"sources\":[]}");
            HttpResponse<String> malformed = get("/coupons/SHORT");
            assertThat(malformed.statusCode()).isEqualTo(400);
            assertThat(json(malformed).get("error").asString()).startsWith("malformed coupon code \"SHORT\"");

            HttpResponse<String> prometheus = get("/actuator/prometheus");
            assertThat(prometheus.statusCode()).isEqualTo(200);
            assertThat(prometheus.body()).contains("couponstate_state_codes_valid 1.0")
                    .contains("couponstate_runner_lag 0.0")
                    .contains("couponstate_runner_records_consumed_total 3.0");

            // a checkpoint directory gone (as a full or lost disk): answers stay right, readiness goes down with
            // the failure in the details, liveness stays UP (a restart would not help)
            await().atMost(WAIT).until(() -> Files.exists(checkpoints) && !isEmpty(checkpoints));
            deleteTree(checkpoints);
            // a checkpoint is written only when the state changed since the last one
            send(bootstrap, topics.get(1), "LATECODE1");
            await().atMost(WAIT).until(() -> get("/actuator/health/readiness").statusCode() == 503);
            JsonNode failing = json(get("/actuator/health")).get("components").get("couponState");
            System.out.println("checkpoints failing: couponState -> " + failing);
            assertThat(failing.get("status").asString()).isEqualTo("OUT_OF_SERVICE");
            assertThat(failing.get("details").get("durable").asBoolean()).isFalse();
            assertThat(failing.get("details").get("checkpointFailure").asString()).isNotBlank();
            assertThat(get("/actuator/health/liveness").statusCode()).isEqualTo(200);
            assertThat(get("/coupons/BIRTHDAY1").statusCode()).isEqualTo(200);
        } finally {
            CouponConsumerRunner runner = app.getBean(CouponConsumerRunner.class);
            app.close();
            assertThat(runner.runnerState().isTerminal()).isTrue();
        }
    }

    private HttpResponse<String> get(String path) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(30)).GET().build();
        return http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode json(HttpResponse<String> response) {
        return JSON.readTree(response.body());
    }

    private static void createAndSend(String bootstrap, List<String> topics, Map<String, List<String>> codes)
            throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            admin.createTopics(topics.stream().map(t -> new NewTopic(t, 1, (short) 1)).toList()).all().get();
        }
        for (Map.Entry<String, List<String>> e : codes.entrySet()) {
            send(bootstrap, e.getKey(), e.getValue().toArray(String[]::new));
        }
    }

    private static void send(String bootstrap, String topic, String... codes) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        try (KafkaProducer<String, String> producer =
                     new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            for (String code : codes) {
                producer.send(new ProducerRecord<>(topic, code, code)).get();
            }
        }
    }

    private static boolean isEmpty(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.noneMatch(f -> f.getFileName().toString().endsWith(".ckpt"));
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(f);
            }
        }
    }
}
