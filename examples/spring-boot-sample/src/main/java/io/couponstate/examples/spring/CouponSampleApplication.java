package io.couponstate.examples.spring;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/**
 * A Spring Boot service on {@code coupon-state-spring-boot-starter}: the starter makes the state and the runner from
 * {@code couponstate.*} (see {@code application.properties}), starts and stops the runner with the context and adds
 * the {@code couponState} health contributor to {@code /actuator/health} and {@code /actuator/health/readiness};
 * {@link CouponController} answers {@code GET /coupons/{code}}.
 */
@SpringBootApplication
public class CouponSampleApplication {

    /**
     * Runs the service.
     *
     * @param args Spring Boot arguments, for example {@code --couponstate.topics=couponbase1,couponbase2}
     */
    public static void main(String[] args) {
        SpringApplication.run(CouponSampleApplication.class, args);
    }
}
