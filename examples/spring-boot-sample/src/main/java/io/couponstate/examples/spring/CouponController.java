package io.couponstate.examples.spring;

import io.couponstate.core.CouponState;
import io.couponstate.kafka.CouponConsumerRunner;
import io.couponstate.kafka.RunnerPhase;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RestController;

/**
 * {@code GET /coupons/{code}}, with the answers of the examples' {@code serve} command: 200
 * {@code {"code":"BIRTHDAY","valid":true,"sources":["couponbase1",...]}} (sources sorted by name); 400
 * {@code {"error":...}} for a code outside the state's format; 503 {@code {"error":...}} with {@code Retry-After: 1}
 * until the runner has caught up. Thread-safe: it only reads the state and the runner's metrics.
 */
@RestController
public class CouponController {

    /** The longest piece of input an error message echoes (as the serve command's). */
    static final int MAX_ECHO = 64;

    private final CouponState state;
    private final CouponConsumerRunner runner;

    /**
     * A controller over the starter's beans.
     *
     * @param state the state to answer from
     * @param runner the runner keeping it current, asked whether it has caught up
     */
    public CouponController(CouponState state, CouponConsumerRunner runner) {
        this.state = state;
        this.runner = runner;
    }

    /**
     * One code's answer.
     *
     * @param code the code, as sent
     * @return 200 with the code's sources, 400 for a malformed code, 503 until caught up
     */
    @GetMapping(path = "/coupons/{code}", produces = MediaType.APPLICATION_JSON_VALUE)
    public ResponseEntity<Object> coupon(@PathVariable("code") String code) {
        if (!state.isWellFormed(code)) {
            return ResponseEntity.badRequest().body(error("malformed coupon code \"" + cut(code) + "\" (expected: "
                    + "the state's code format, e.g. 8 to 10 of A-Z0-9)"));
        }
        RunnerPhase phase = runner.metrics().phase();
        if (phase != RunnerPhase.UP) {
            return ResponseEntity.status(HttpStatus.SERVICE_UNAVAILABLE).header("Retry-After", "1")
                    .body(error("not ready: " + phase + " (the state has not caught up with the topics)"));
        }
        String canonical = canonical(code);
        List<String> sources = List.copyOf(new TreeSet<>(state.getObservations(canonical)));
        return ResponseEntity.ok(new Answer(canonical, sources.size() >= state.threshold(), sources));
    }

    /**
     * The body of a 200.
     *
     * @param code the canonical code
     * @param valid whether it is valid
     * @param sources its sources, sorted by name
     */
    public record Answer(String code, boolean valid, List<String> sources) {
    }

    /** A state that folds lower case answers with the canonical (upper-case) code. */
    private String canonical(String code) {
        String upper = code.toUpperCase(Locale.ROOT);
        return upper.equals(code) || !state.isWellFormed(upper) ? code : upper;
    }

    private static Map<String, String> error(String message) {
        return Map.of("error", message);
    }

    private static String cut(String input) {
        return input.length() <= MAX_ECHO ? input
                : input.substring(0, MAX_ECHO - 3) + "... (" + input.length() + " characters)";
    }
}
