/**
 * Spring Boot auto-configuration for couponstate: {@link io.couponstate.spring.autoconfigure.CouponStateProperties}
 * ({@code couponstate.*}), the state and runner beans
 * ({@link io.couponstate.spring.autoconfigure.CouponStateAutoConfiguration}), the runner's lifecycle
 * ({@link io.couponstate.spring.autoconfigure.CouponRunnerLifecycle}) and its health
 * ({@link io.couponstate.spring.autoconfigure.CouponStateHealthIndicator}).
 */
package io.couponstate.spring.autoconfigure;
