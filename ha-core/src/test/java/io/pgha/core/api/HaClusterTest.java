package io.pgha.core.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.cluster.DcsVersion;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.LeaderLock;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.Tags;
import io.pgha.core.config.HostPort;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.spi.MemberNameTakenException;
import io.pgha.core.testkit.FakePostgres;
import io.pgha.core.testkit.FakePostgresNetwork;
import io.pgha.core.testkit.ForwardingDcs;
import io.pgha.core.testkit.InMemoryDcs;
import io.pgha.core.testkit.ManualClock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The public API's lifecycle and operations, on test fakes (InMemoryDcs, FakePostgres) driven by a
 * {@link ManualClock}; the real-PostgreSQL end-to-end suite lives in the examples module.
 */
class HaClusterTest {

    private final ManualClock clock = new ManualClock();
    private final InMemoryDcs store = new InMemoryDcs(KeyLayout.of("api"), clock, Duration.ofSeconds(10));
    private final FakePostgresNetwork net = new FakePostgresNetwork(clock, 3);
    private final List<HaCluster> nodes = new CopyOnWriteArrayList<>();
    private final java.util.Map<String, InMemoryDcs.Session> sessions = new java.util.concurrent.ConcurrentHashMap<>();

    /** The store, remembering each member's session (a crash abandons it: its keep-alives stop). */
    private DcsFactory dcs() {
        return ctx -> {
            InMemoryDcs.Session s = store.open(ctx);
            sessions.put(ctx.memberName(), s);
            return s;
        };
    }

    private HaCluster node(String name, int host, List<HaCluster.RoleChange> events) {
        return node(name, host, events, FakePostgres.Timings.DEFAULT);
    }

    private HaCluster node(String name, int host, List<HaCluster.RoleChange> events, FakePostgres.Timings timings) {
        HostPort address = new HostPort("10.9.0." + host, 5432);
        FakePostgres pg = net.create(name, address, timings, false);
        HaCluster n = HaCluster.builder().scope("api").member(name).dcs(dcs()).postgres(pg, address)
                .ttl(Duration.ofSeconds(10)).loopWait(Duration.ofSeconds(2)).retryTimeout(Duration.ofSeconds(2))
                .clock(clock).onRoleChange(events::add).build();
        nodes.add(n);
        return n;
    }

    /** start() waits until the member key is registered, which takes simulated time: run it on a thread of its own. */
    private void start(HaCluster n) {
        clock.setDefaultGroup(n.name());
        clock.startThread("start-" + n.name(), n::start);
    }

    private void run(Duration d) {
        net.runFor(clock, d);
    }

    @AfterEach
    void stop() {
        clock.killAll();
    }

    @Test
    void aStartedNodeBootstrapsLeadsAndReportsItsRole() {
        List<HaCluster.RoleChange> events = new CopyOnWriteArrayList<>();
        HaCluster a = node("a", 1, events);
        assertThat(a.role()).isEqualTo(Role.STARTING);
        start(a);
        run(Duration.ofSeconds(10));
        assertThat(a.role()).isEqualTo(Role.PRIMARY);
        assertThat(a.leader()).contains("a");
        assertThat(a.members()).extracting(m -> m.name()).containsExactly("a");
        assertThat(events).extracting(HaCluster.RoleChange::newRole).contains(Role.PRIMARY);
    }

    @Test
    void statusListenersSeeEveryPublishedStatusUntilRemoved() {
        HaCluster a = node("a", 1, new CopyOnWriteArrayList<>());
        List<io.pgha.core.cluster.NodeStatus> seen = new CopyOnWriteArrayList<>();
        java.util.function.Consumer<io.pgha.core.cluster.NodeStatus> listener = seen::add;
        a.onStatus(listener);
        start(a);
        run(Duration.ofSeconds(10));
        assertThat(seen).isNotEmpty();
        io.pgha.core.cluster.NodeStatus last = seen.get(seen.size() - 1);
        assertThat(last.role()).isEqualTo(Role.PRIMARY);
        assertThat(last.view().leader().holder()).isEqualTo("a");
        assertThat(last.view().leader().epoch()).isNotZero();
        a.removeStatusListener(listener);
        int before = seen.size();
        run(Duration.ofSeconds(10));
        assertThat(seen).hasSize(before);
    }

    @Test
    void aSecondStartIsAnError() {
        HaCluster a = node("a", 1, new CopyOnWriteArrayList<>());
        start(a);
        run(Duration.ofSeconds(1));
        assertThatThrownBy(a::start).isInstanceOf(IllegalStateException.class).hasMessageContaining("already");
    }

    @Test
    void pauseAndResumeGoThroughTheDcsConfig() {
        HaCluster a = node("a", 1, new CopyOnWriteArrayList<>());
        start(a);
        run(Duration.ofSeconds(10));
        // pause() blocks on the store: run it on a simulated thread
        clock.startThread("op", a::pause);
        run(Duration.ofSeconds(1));
        assertThat(store.peek().config().pause()).isTrue();
        clock.startThread("op", a::resume);
        run(Duration.ofSeconds(1));
        assertThat(store.peek().config().pause()).isFalse();
    }

    /** Runs {@code op} on a simulated thread for {@code d}; what it returned, or what it threw. */
    private Object operate(java.util.function.Supplier<String> op, Duration d) {
        java.util.concurrent.atomic.AtomicReference<Object> out = new java.util.concurrent.atomic.AtomicReference<>();
        clock.startThread("op", () -> {
            try {
                out.set(op.get());
            } catch (RuntimeException e) {
                out.set(e);
            }
        });
        run(d);
        return out.get();
    }

    @Test
    void aRestartLongerThanACycleEndsWithTheRoleTheServerRunsAsNotTheOneSeenWhileItWasDown() {
        // Fake PostgreSQL (simulated clock): the start takes 5 s, so cycles run while the server is down and
        // publish it stopped; the restart's end (what on_restart gets) and the role listeners must see it primary.
        FakePostgres.Timings d = FakePostgres.Timings.DEFAULT;
        FakePostgres.Timings slowStart = new FakePostgres.Timings(Duration.ofSeconds(5), d.crashRecovery(), d.stop(),
                d.promote(), d.bootstrap(), d.baseBackup(), d.rewind(), d.peerTimeout());
        List<HaCluster.RoleChange> roles = new CopyOnWriteArrayList<>();
        HaCluster a = node("a", 1, roles, slowStart);
        start(a);
        run(Duration.ofSeconds(20));
        assertThat(a.role()).isEqualTo(Role.PRIMARY);
        List<HaCluster.PostgresEvent> pgEvents = new CopyOnWriteArrayList<>();
        a.onPostgresEvent(pgEvents::add);
        roles.clear();

        assertThat(operate(() -> a.restart(HaCluster.RestartConditions.NONE), Duration.ofSeconds(15)))
                .isEqualTo("restarted successfully");
        assertThat(roles).as("a cycle ran while the server was down").extracting(HaCluster.RoleChange::newRole)
                .contains(Role.STOPPED);
        assertThat(pgEvents).extracting(HaCluster.PostgresEvent::kind, HaCluster.PostgresEvent::role)
                .containsExactly(tuple(HaCluster.PostgresEvent.Kind.RESTARTING, Role.PRIMARY),
                        tuple(HaCluster.PostgresEvent.Kind.RESTARTED, Role.PRIMARY));
        assertThat(roles.get(roles.size() - 1).newRole()).isEqualTo(Role.PRIMARY);
    }

    @Test
    void restartReinitializeAndReloadAreVerbsOfTheMember() {
        HaCluster a = node("a", 1, new CopyOnWriteArrayList<>());
        start(a);
        run(Duration.ofSeconds(10));
        assertThat(a.role()).isEqualTo(Role.PRIMARY);
        List<HaCluster.PostgresEvent> pgEvents = new CopyOnWriteArrayList<>();
        a.onPostgresEvent(pgEvents::add);

        assertThat(operate(() -> a.restart(HaCluster.RestartConditions.NONE), Duration.ofSeconds(10)))
                .isEqualTo("restarted successfully");
        assertThat(a.leader()).contains("a");
        assertThat(a.role()).isEqualTo(Role.PRIMARY);
        assertThat(pgEvents).as("the restart's begin and end, what Patroni's on_restart fires on")
                .extracting(HaCluster.PostgresEvent::kind, HaCluster.PostgresEvent::role)
                .containsExactly(tuple(HaCluster.PostgresEvent.Kind.RESTARTING, Role.PRIMARY),
                        tuple(HaCluster.PostgresEvent.Kind.RESTARTED, Role.PRIMARY));
        pgEvents.clear();

        assertThat(operate(() -> a.restart(new HaCluster.RestartConditions(null, null, true)), Duration.ofSeconds(5)))
                .isInstanceOfSatisfying(IllegalStateException.class, e -> assertThat(e)
                        .hasMessage("restart refused: restart conditions are not satisfied"));
        assertThat(operate(() -> a.reinitialize(true), Duration.ofSeconds(5)))
                .isInstanceOfSatisfying(IllegalStateException.class, e -> assertThat(e)
                        .hasMessage("reinitialize refused: I am the leader, can not reinitialize"));
        assertThat(operate(a::reload, Duration.ofSeconds(5))).isEqualTo("reload scheduled");
        run(Duration.ofSeconds(5));
        assertThat(pgEvents).as("refused requests are no events; the reload is one")
                .extracting(HaCluster.PostgresEvent::kind).containsExactly(HaCluster.PostgresEvent.Kind.RELOADED);

        java.time.OffsetDateTime at = java.time.OffsetDateTime.ofInstant(clock.wallTime(), java.time.ZoneOffset.UTC)
                .plusHours(1);
        assertThat(operate(() -> a.scheduleRestart(at, HaCluster.RestartConditions.NONE), Duration.ofSeconds(3)))
                .isEqualTo("Restart scheduled");
        assertThat(store.peek().member("a").orElseThrow().extra()).containsKey("scheduled_restart");
        assertThat(operate(a::cancelScheduledRestart, Duration.ofSeconds(3))).isEqualTo("scheduled restart deleted");
        assertThat(store.peek().member("a").orElseThrow().extra()).doesNotContainKey("scheduled_restart");
        assertThatThrownBy(() -> a.restart(new HaCluster.RestartConditions(Role.UNKNOWN, null, false)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("RestartConditions.role");
    }

    @Test
    void closeStopsPostgresAndFreesTheLock() {
        HaCluster a = node("a", 1, new CopyOnWriteArrayList<>());
        start(a);
        run(Duration.ofSeconds(10));
        clock.startThread("closer", a::close);
        run(Duration.ofSeconds(2));
        assertThat(a.role()).isEqualTo(Role.CLOSED);
        assertThat(net.get("a").isUp()).isFalse();
        assertThat(store.peek().leader()).isNull();
        assertThatThrownBy(a::start).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void s1_closeStopsPostgresBeforeItReleasesTheLock() {
        List<Boolean> upAtRelease = new CopyOnWriteArrayList<>();
        HostPort address = new HostPort("10.9.0.1", 5432);
        FakePostgres pg = net.create("a", address, FakePostgres.Timings.DEFAULT, false);
        HaCluster a = HaCluster.builder().scope("api").member("a").postgres(pg, address)
                .dcs(ctx -> new ForwardingDcs(store.open(ctx)) {
                    @Override
                    public boolean releaseLeader() throws DcsUnavailableException {
                        upAtRelease.add(pg.isUp());
                        return super.releaseLeader();
                    }
                })
                .ttl(Duration.ofSeconds(10)).loopWait(Duration.ofSeconds(2)).retryTimeout(Duration.ofSeconds(2))
                .clock(clock).build();
        start(a);
        run(Duration.ofSeconds(10));
        assertThat(pg.isWritablePrimary()).isTrue();
        clock.startThread("closer", a::close);
        run(Duration.ofSeconds(5));
        assertThat(upAtRelease).as("postgres was down when the lock was released").containsExactly(false);
        assertThat(store.peek().leader()).isNull();
        assertThat(pg.isFenced()).as("a start racing the close is refused").isTrue();
    }

    @Test
    void s1_aCloseDuringAnInFlightPromotionNeverLeavesAWritablePrimaryWithoutTheLock() {
        HaCluster a = node("a", 1, new CopyOnWriteArrayList<>());
        start(a);
        run(Duration.ofSeconds(10));
        // b promotes slowly (3 s), and closes leaving a replica running: the worst case for a close.
        FakePostgres.Timings slow = new FakePostgres.Timings(Duration.ofMillis(200), Duration.ofMillis(800),
                Duration.ofMillis(100), Duration.ofSeconds(3), Duration.ofMillis(600), Duration.ofMillis(1200),
                Duration.ofMillis(500), Duration.ofSeconds(2));
        FakePostgres bPg = net.create("b", address(2), slow, false);
        HaCluster b = HaCluster.builder().scope("api").member("b").dcs(store).postgres(bPg, address(2))
                .ttl(Duration.ofSeconds(10)).loopWait(Duration.ofSeconds(2)).retryTimeout(Duration.ofSeconds(2))
                .onClose(HaCluster.OnClose.LEAVE_REPLICA_RUNNING).clock(clock).build();
        nodes.add(b);
        start(b);
        run(Duration.ofSeconds(15));
        assertThat(bPg.isReplicaRunning()).isTrue();

        List<String> breaches = new CopyOnWriteArrayList<>();
        clock.afterEachEvent(() -> {
            if (bPg.isWritablePrimary() && !store.leaderHeldBy("b")) {
                breaches.add(clock.nanoTime() + ": b writable without the lock");
            }
        });
        clock.kill("a");
        sessions.get("a").abandon();
        net.get("a").crash();
        for (int i = 0; i < 300 && !(store.leaderHeldBy("b") && !bPg.isWritablePrimary()); i++) {
            run(Duration.ofMillis(100));
        }
        assertThat(store.leaderHeldBy("b")).as("b won the race and is promoting").isTrue();
        clock.setDefaultGroup("closer");
        clock.startThread("closer", b::close);
        run(Duration.ofSeconds(15));
        assertThat(b.role()).isEqualTo(Role.CLOSED);
        assertThat(breaches).isEmpty();
        assertThat(bPg.isWritablePrimary()).isFalse();
        assertThat(store.peek().leader()).isNull();
    }

    @Test
    void leaveReplicaRunningLeavesAReplicaButStillStopsAPrimary() {
        HaCluster a = leavingReplicasRunning("a", 1);
        start(a);
        run(Duration.ofSeconds(10));
        HaCluster b = leavingReplicasRunning("b", 2);
        start(b);
        run(Duration.ofSeconds(15));
        assertThat(net.get("b").isReplicaRunning()).isTrue();

        clock.startThread("closer", b::close);
        run(Duration.ofSeconds(5));
        assertThat(b.role()).isEqualTo(Role.CLOSED);
        assertThat(net.get("b").isReplicaRunning()).as("the replica was left running").isTrue();

        clock.startThread("closer", a::close);
        run(Duration.ofSeconds(5));
        assertThat(net.get("a").isUp()).as("a primary is stopped whatever onClose says").isFalse();
        assertThat(store.peek().leader()).isNull();
    }

    private HaCluster leavingReplicasRunning(String name, int host) {
        FakePostgres pg = net.create(name, address(host), FakePostgres.Timings.DEFAULT, false);
        HaCluster n = HaCluster.builder().scope("api").member(name).dcs(store).postgres(pg, address(host))
                .ttl(Duration.ofSeconds(10)).loopWait(Duration.ofSeconds(2)).retryTimeout(Duration.ofSeconds(2))
                .onClose(HaCluster.OnClose.LEAVE_REPLICA_RUNNING).clock(clock).build();
        nodes.add(n);
        return n;
    }

    @Test
    void listenersRunOnTheirExecutorAndAThrowingListenerDoesNotStopTheOthers() {
        List<String> ran = new CopyOnWriteArrayList<>();
        List<Runnable> queued = new CopyOnWriteArrayList<>();
        HostPort address = address(1);
        FakePostgres pg = net.create("a", address, FakePostgres.Timings.DEFAULT, false);
        HaCluster a = HaCluster.builder().scope("api").member("a").dcs(store).postgres(pg, address)
                .ttl(Duration.ofSeconds(10)).loopWait(Duration.ofSeconds(2)).retryTimeout(Duration.ofSeconds(2))
                .clock(clock).listenerExecutor(queued::add)
                .onRoleChange(e -> {
                    throw new IllegalStateException("listener bug");
                })
                .onRoleChange(e -> ran.add(e.newRole().name())).build();
        nodes.add(a);
        start(a);
        run(Duration.ofSeconds(10));
        assertThat(ran).as("nothing runs on the loop thread: all went to the executor").isEmpty();
        assertThat(queued).isNotEmpty();
        queued.forEach(Runnable::run);
        assertThat(ran).contains("PRIMARY");
        assertThat(a.role()).isEqualTo(Role.PRIMARY);
    }

    // ------------------------------------------------------------------------------------------------ one name, one process

    /** A member named {@code name} on its own (fake) PostgreSQL {@code pgName}, opened through {@link #dcs()}. */
    private HaCluster namedNode(String name, String pgName, int host) {
        FakePostgres pg = net.get(pgName) != null ? net.get(pgName)
                : net.create(pgName, address(host), FakePostgres.Timings.DEFAULT, false);
        HaCluster n = HaCluster.builder().scope("api").member(name).dcs(dcs()).postgres(pg, address(host))
                .ttl(Duration.ofSeconds(10)).loopWait(Duration.ofSeconds(2)).retryTimeout(Duration.ofSeconds(2))
                .clock(clock).build();
        nodes.add(n);
        return n;
    }

    /** A member that bootstrapped the cluster and leads it. */
    private HaCluster bootstrappedLeader(String name) {
        HaCluster n = node(name, 1, new CopyOnWriteArrayList<>());
        start(n);
        run(Duration.ofSeconds(10));
        assertThat(n.role()).isEqualTo(Role.PRIMARY);
        return n;
    }

    /** Starts {@code n} on a simulated thread of {@code group}; what its start() throws is collected. */
    private List<Throwable> startCatching(HaCluster n, String group) {
        List<Throwable> thrown = new CopyOnWriteArrayList<>();
        clock.setDefaultGroup(group);
        clock.startThread("start-" + group, () -> {
            try {
                n.start();
            } catch (IllegalStateException e) {
                thrown.add(e);
            }
        });
        return thrown;
    }

    @Test
    void aSecondNodeWithTheLeadersNameIsRefusedAndChangesNothing() {
        HaCluster a = bootstrappedLeader("a");
        LeaderLock lock = store.peek().leader();

        HaCluster impostor = namedNode("a", "impostor", 2);
        List<String> breaches = new CopyOnWriteArrayList<>();
        clock.afterEachEvent(() -> {
            if (net.get("impostor").isUp() || !net.get("a").isWritablePrimary()) {
                breaches.add(clock.nanoTime() + ": impostor up " + net.get("impostor").isUp() + ", leader writable "
                        + net.get("a").isWritablePrimary());
            }
        });
        List<Throwable> thrown = startCatching(impostor, "impostor");
        run(Duration.ofSeconds(5));
        assertThat(thrown).as("within ttl the holder could still be a process of this name that died").isEmpty();
        assertThat(impostor.role()).isEqualTo(Role.STARTING);
        // ttl + retryTimeout of patience, then a cycle.
        run(Duration.ofSeconds(10));

        assertThat(thrown).hasSize(1);
        assertThat(thrown.get(0)).hasMessageContaining("refusing to start").hasMessageContaining("'a'")
                .hasMessageContaining("another live session").hasCauseInstanceOf(MemberNameTakenException.class);
        assertThat(impostor.role()).isEqualTo(Role.CLOSED);
        assertThat(breaches).as("the impostor's postgres never ran, and the leader's stayed primary").isEmpty();
        assertThat(store.peek().leader()).as("the leader key: same holder, version and epoch").isEqualTo(lock);
        assertThat(store.peek().members()).containsOnlyKeys("a");
        run(Duration.ofSeconds(5));
        assertThat(a.role()).isEqualTo(Role.PRIMARY);
    }

    @Test
    void aNodeRestartedRightAfterACrashWaitsForItsOldLeaseAndThenLeads() {
        HaCluster a = bootstrappedLeader("a");
        clock.kill("a");
        sessions.get("a").abandon();
        net.get("a").crash();

        HaCluster restarted = namedNode("a", "a", 1);
        List<Throwable> thrown = startCatching(restarted, "a2");
        run(Duration.ofSeconds(5));
        assertThat(restarted.role()).as("the old lease still holds the name").isEqualTo(Role.STARTING);
        assertThat(store.peek().leader().holder()).isEqualTo("a");
        run(Duration.ofSeconds(25));
        assertThat(thrown).isEmpty();
        assertThat(restarted.role()).isEqualTo(Role.PRIMARY);
        assertThat(store.leaderHeldBy("a")).isTrue();
    }

    @Test
    void aRunningNodeWhoseNameAnotherProcessTookStopsLeading() throws Exception {
        HaCluster a = bootstrappedLeader("a");

        // a's lease lapses, and before its next cycle another process registers the name.
        store.expire("a");
        InMemoryDcs.Session other = store.open(new DcsContext(KeyLayout.of("api"), "a", Duration.ofSeconds(10),
                Duration.ofSeconds(2), clock));
        other.touchMember(new Member("a", "postgres://10.9.0.7:5432/postgres", "http://10.9.0.7:8008/patroni",
                "stopped", Role.UNINITIALIZED, null, null, null, null, 0, Tags.DEFAULT, false, false, Map.of(),
                DcsVersion.ABSENT));
        run(Duration.ofSeconds(5));

        assertThat(a.role()).isEqualTo(Role.CLOSED);
        assertThat(net.get("a").isUp()).as("stopped leading: postgres fenced").isFalse();
        assertThat(net.get("a").isFenced()).isTrue();
        assertThat(store.peek().members()).containsOnlyKeys("a");
        other.close();
    }

    private static HostPort address(int host) {
        return new HostPort("10.9.0." + host, 5432);
    }

    @Test
    void badSettingsAreRejectedWhenBuilding() {
        assertThatThrownBy(() -> HaCluster.builder().member("a").dcs(store).build()).hasMessage("scope is required");
        assertThatThrownBy(() -> HaCluster.builder().scope("s").member("a").build())
                .hasMessageContaining("dcs is required");
        assertThatThrownBy(() -> HaCluster.builder().scope("s").member("a").dcs(store)
                .postgres(net.create("x", new HostPort("h", 1), FakePostgres.Timings.DEFAULT, false), new HostPort("h", 1))
                .ttl(Duration.ofSeconds(5)).build())
                .hasMessageContaining("loopWait + 2*retryTimeout must be <= ttl");
    }

    @Test
    void aRequiredWatchdogWithoutADeviceFailsTheStartWithTheReason() {
        java.nio.file.Path missing = java.nio.file.Path.of("/nonexistent-pgha-test/watchdog");
        HaCluster a = HaCluster.builder().scope("api").member("a").dcs(dcs())
                .postgres(net.create("a", address(1), FakePostgres.Timings.DEFAULT, false), address(1))
                .ttl(Duration.ofSeconds(10)).loopWait(Duration.ofSeconds(2)).retryTimeout(Duration.ofSeconds(2))
                .watchdog(io.pgha.core.config.WatchdogMode.REQUIRED).watchdogDevice(missing).clock(clock).build();
        nodes.add(a);
        assertThatThrownBy(a::start).isInstanceOf(IllegalStateException.class)
                .hasMessage("api/a - watchdog required, but there is no watchdog device at " + missing
                        + " (load a driver, e.g. `modprobe softdog soft_margin=<seconds>`)");
        assertThatThrownBy(a::start).as("closed: it cannot be started later").hasMessageContaining("closed");
        assertThat(sessions).as("no DCS session was opened").isEmpty();
    }

    @Test
    void anAutomaticWatchdogWithoutADeviceRunsWithout() {
        HaCluster a = HaCluster.builder().scope("api").member("a").dcs(dcs())
                .postgres(net.create("a", address(1), FakePostgres.Timings.DEFAULT, false), address(1))
                .ttl(Duration.ofSeconds(10)).loopWait(Duration.ofSeconds(2)).retryTimeout(Duration.ofSeconds(2))
                .watchdog(io.pgha.core.config.WatchdogMode.AUTOMATIC)
                .watchdogDevice(java.nio.file.Path.of("/nonexistent-pgha-test/watchdog")).clock(clock).build();
        nodes.add(a);
        start(a);
        run(Duration.ofSeconds(10));
        assertThat(a.role()).isEqualTo(Role.PRIMARY);
    }

    @Test
    void timingsThatDoNotFitTheStoresExpectedLeaseAreRejectedWhenBuilding() {
        HostPort address = address(1);
        FakePostgres pg = net.create("a", address, FakePostgres.Timings.DEFAULT, false);
        DcsFactory shortLease = new DcsFactory() {
            @Override
            public io.pgha.core.spi.Dcs open(io.pgha.core.spi.DcsContext context) {
                return store.open(context);
            }

            @Override
            public Duration expectedLeaseGuarantee(io.pgha.core.spi.DcsContext context) {
                return context.ttl().minusSeconds(5);
            }

            @Override
            public String toString() {
                return "a store keeping ttl - 5s";
            }
        };
        assertThatThrownBy(() -> HaCluster.builder().scope("api").member("a").dcs(shortLease).postgres(pg, address)
                .ttl(Duration.ofSeconds(10)).loopWait(Duration.ofSeconds(2)).retryTimeout(Duration.ofSeconds(2))
                .clock(clock).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("loopWait + 2*retryTimeout must be <= the DCS lease guarantee (got 2s + 2*2s > 5s, what a "
                        + "store keeping ttl - 5s guarantees after a renewal)");
        assertThat(HaCluster.builder().scope("api").member("a").dcs(shortLease).postgres(pg, address)
                .ttl(Duration.ofSeconds(11)).loopWait(Duration.ofSeconds(2)).retryTimeout(Duration.ofSeconds(2))
                .clock(clock).build()).as("6s of lease hold 2s + 2*2s").isNotNull();
    }

    @Test
    void aSettingTheStoreRefusesWhenOpeningFailsTheStartInsteadOfBeingRetried() throws Exception {
        HostPort address = address(1);
        FakePostgres pg = net.create("a", address, FakePostgres.Timings.DEFAULT, false);
        java.util.concurrent.atomic.AtomicInteger opens = new java.util.concurrent.atomic.AtomicInteger();
        // A store that checks its rules only when a session is opened (the adapters' expectedLeaseGuarantee checks
        // them at build time; this one does not, so the start must not loop on it either).
        DcsFactory strict = context -> {
            opens.incrementAndGet();
            throw new IllegalArgumentException("ttl must be at least 1 s for this store (got 500 ms)");
        };
        HaCluster n = HaCluster.builder().scope("api").member("a").dcs(strict).postgres(pg, address)
                .ttl(Duration.ofSeconds(10)).loopWait(Duration.ofSeconds(2)).retryTimeout(Duration.ofSeconds(2))
                .clock(clock).build();
        java.util.concurrent.atomic.AtomicReference<Throwable> thrown = new java.util.concurrent.atomic.AtomicReference<>();
        clock.setDefaultGroup("a");
        clock.startThread("start-a", () -> {
            try {
                n.start();
            } catch (RuntimeException e) {
                thrown.set(e);
            }
        });
        run(Duration.ofSeconds(30));

        assertThat(thrown.get()).as("start() fails").isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("the DCS refuses this member's settings")
                .hasMessageContaining("ttl must be at least 1 s for this store");
        assertThat(opens.get()).as("opened once, not retried").isEqualTo(1);
        assertThat(n.role()).isEqualTo(Role.CLOSED);
    }
}
