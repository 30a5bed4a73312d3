package io.pgha.core.spi;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.testkit.DcsContractTest;
import io.pgha.core.testkit.InMemoryDcs;
import io.pgha.core.time.SystemHaClock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterAll;

/**
 * The simulation's fake store must keep the same contract as the real adapters: otherwise the simulation would prove
 * things about a store that does not exist. One in-memory store per test cluster, on the real clock.
 */
class InMemoryDcsContractTest extends DcsContractTest {

    private final Map<KeyLayout, InMemoryDcs> stores = new ConcurrentHashMap<>();

    private InMemoryDcs store(KeyLayout layout) {
        return stores.computeIfAbsent(layout, l -> new InMemoryDcs(l, SystemHaClock.INSTANCE, ttl()));
    }

    // No network and exact expiry: a short lease keeps the expiry tests quick (the real adapters use the contract's 5 s).
    @Override
    protected Duration ttl() {
        return Duration.ofSeconds(2);
    }

    @Override
    protected Duration retryTimeout() {
        return Duration.ofMillis(800);
    }

    @Override
    protected DcsFactory factory() {
        return ctx -> store(ctx.layout()).open(ctx);
    }

    @Override
    protected void crash(Dcs member) {
        ((InMemoryDcs.Session) member).abandon();
    }

    @Override
    protected String storeName() {
        return "in-memory";
    }

    @Override
    protected void writeRaw(KeyLayout layout, String key, String value) {
        store(layout).putRaw(key, value);
    }

    @Override
    protected void expireLease(Dcs member) {
        ((InMemoryDcs.Session) member).expireLease();
    }

    @Override
    protected boolean holdsLease(Dcs member) {
        return ((InMemoryDcs.Session) member).createdLease();
    }

    @Override
    protected void stopServer() {
        store(layout()).outage(true);
    }

    @Override
    protected void startServer() {
        store(layout()).outage(false);
    }

    @Override
    protected void makeUnreachable(Dcs member) {
        store(layout()).partition(member.memberName(), true);
    }

    @Override
    protected void heal(Dcs member) {
        store(layout()).partition(member.memberName(), false);
    }

    @AfterAll
    void stopReapers() {
        stores.values().forEach(InMemoryDcs::shutdown);
    }
}
