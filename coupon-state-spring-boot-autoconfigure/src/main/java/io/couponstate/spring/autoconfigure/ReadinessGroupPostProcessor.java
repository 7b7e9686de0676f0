package io.couponstate.spring.autoconfigure;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.springframework.boot.actuate.endpoint.SecurityContext;
import org.springframework.boot.health.actuate.endpoint.AdditionalHealthEndpointPath;
import org.springframework.boot.health.actuate.endpoint.HealthEndpointGroup;
import org.springframework.boot.health.actuate.endpoint.HealthEndpointGroups;
import org.springframework.boot.health.actuate.endpoint.HealthEndpointGroupsPostProcessor;
import org.springframework.boot.health.actuate.endpoint.HttpCodeStatusMapper;
import org.springframework.boot.health.actuate.endpoint.StatusAggregator;

/**
 * Makes the couponstate contributor a member of the {@code readiness} health group, so that a readiness probe
 * ({@code /actuator/health/readiness}) keeps traffic away until the state has caught up, while the {@code liveness}
 * group stays as it is (nothing here is helped by a restart). An existing readiness group (the application's own)
 * keeps its members and gains this one; without one, the group made here has Spring Boot's member
 * ({@code readinessState}) and this one, and the primary group's aggregation, status mapping and visibility. Runs
 * before Spring Boot's probes post-processor, which keeps an existing readiness group.
 */
final class ReadinessGroupPostProcessor implements HealthEndpointGroupsPostProcessor {

    static final String READINESS = "readiness";
    static final String READINESS_STATE = "readinessState";

    private final Set<String> members;

    ReadinessGroupPostProcessor(Set<String> members) {
        this.members = Set.copyOf(members);
    }

    @Override
    public HealthEndpointGroups postProcessHealthEndpointGroups(HealthEndpointGroups groups) {
        Map<String, HealthEndpointGroup> named = new LinkedHashMap<>();
        for (String name : groups.getNames()) {
            named.put(name, groups.get(name));
        }
        HealthEndpointGroup readiness = named.get(READINESS);
        named.put(READINESS, readiness != null ? new WithMembers(readiness, members, null)
                : new WithMembers(groups.getPrimary(), members, READINESS_STATE));
        return HealthEndpointGroups.of(groups.getPrimary(), named);
    }

    /** A group with more members; everything else as the group it wraps. */
    private static final class WithMembers implements HealthEndpointGroup {
        private final HealthEndpointGroup delegate;
        private final Set<String> added;
        /** Null: the delegate's members count too; else only this one and {@code added}. */
        private final String only;

        WithMembers(HealthEndpointGroup delegate, Set<String> added, String only) {
            this.delegate = Objects.requireNonNull(delegate, "delegate");
            this.added = added;
            this.only = only;
        }

        @Override
        public boolean isMember(String name) {
            if (added.contains(name)) {
                return true;
            }
            return only == null ? delegate.isMember(name) : only.equals(name);
        }

        @Override
        public boolean showComponents(SecurityContext securityContext) {
            return delegate.showComponents(securityContext);
        }

        @Override
        public boolean showDetails(SecurityContext securityContext) {
            return delegate.showDetails(securityContext);
        }

        @Override
        public StatusAggregator getStatusAggregator() {
            return delegate.getStatusAggregator();
        }

        @Override
        public HttpCodeStatusMapper getHttpCodeStatusMapper() {
            return delegate.getHttpCodeStatusMapper();
        }

        @Override
        public AdditionalHealthEndpointPath getAdditionalPath() {
            return only == null ? delegate.getAdditionalPath() : null;
        }
    }
}
