package io.pgha.jdbc;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * Micrometer meters of one DataSource, all tagged {@code datasource} (its name) and, where it applies, {@code role}.
 * Loaded only when the application passes a registry: Micrometer is an optional dependency.
 */
final class MicrometerRoutingMetrics implements RoutingMetrics {

    private final MeterRegistry registry;
    private final String name;
    private final Set<String> leaderGauges = ConcurrentHashMap.newKeySet();
    private volatile Supplier<Topology> current = () -> Topology.NOTHING_YET;

    MicrometerRoutingMetrics(MeterRegistry registry, String name) {
        this.registry = registry;
        this.name = name;
    }

    @Override
    public void bind(Supplier<Topology> topology) {
        current = topology;
        Gauge.builder("pgha.jdbc.epoch", this, m -> m.current.get().epoch())
                .description("Epoch of the leader key the DataSource routes writes by")
                .tag("datasource", name).register(registry);
        Gauge.builder("pgha.jdbc.store.reachable", this, m -> m.current.get().storeReachable() ? 1 : 0)
                .description("1 while the last read of the store succeeded; 0 while routing on the last known leader")
                .tag("datasource", name).register(registry);
    }

    @Override
    public void switched(Topology now) {
        Counter.builder("pgha.jdbc.switches").description("Changes of leader or leader epoch")
                .tag("datasource", name).register(registry).increment();
        String leader = now.leader();
        if (leader != null && leaderGauges.add(leader)) {
            // One gauge per member ever seen as leader (a handful): 1 for the current one, 0 for the others.
            Gauge.builder("pgha.jdbc.leader", this, m -> leader.equals(m.current.get().leader()) ? 1 : 0)
                    .description("1 for the member writes are routed to").tag("datasource", name)
                    .tag("member", leader).register(registry);
        }
    }

    @Override
    public void waited(TargetRole role, long nanos, boolean ok) {
        Timer.builder("pgha.jdbc.wait").description("Time getConnection() took, waits for a leader included")
                .tag("datasource", name).tag("role", role.name().toLowerCase(Locale.ROOT))
                .tag("outcome", ok ? "connection" : "error").register(registry).record(Duration.ofNanos(nanos));
    }

    @Override
    public void evicted(String purpose, String reason) {
        Counter.builder("pgha.jdbc.evictions").description("Connections or pools evicted by the router")
                .tag("datasource", name).tag("role", purpose).tag("reason", reason).register(registry).increment();
    }

    @Override
    public void retried(TargetRole role, String reason) {
        Counter.builder("pgha.jdbc.retries").description("Failed attempts a borrow retried by itself")
                .tag("datasource", name).tag("role", role.name().toLowerCase(Locale.ROOT)).tag("reason", reason)
                .register(registry).increment();
    }

    @Override
    public void resolved(String outcome) {
        Counter.builder("pgha.jdbc.commit.resolutions")
                .description("COMMITs cut off by a failover and resolved with txid_status, by outcome")
                .tag("datasource", name).tag("outcome", outcome).register(registry).increment();
    }
}
