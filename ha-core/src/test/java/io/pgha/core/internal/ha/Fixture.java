package io.pgha.core.internal.ha;

import io.pgha.core.cluster.ClusterStatus;
import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.FailoverRequest;
import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.LeaderLock;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.ReplicationRow;
import io.pgha.core.cluster.Role;
import io.pgha.core.cluster.SyncState;
import io.pgha.core.cluster.TimelineHistory;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.HostPort;
import io.pgha.core.config.SynchronousMode;
import io.pgha.core.config.Tags;
import io.pgha.core.spi.DivergenceCheck;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds {@link HaInput}s for the decision tables: a cluster seen by member {@code me}, with readable defaults (a
 * three-member cluster m1..m3, initialized with system id {@code 7000}, timeline 1).
 */
final class Fixture {

    static final String SYSID = "7000";
    static final long MB = 1024 * 1024;

    HaSettings.Builder settings;
    ClusterView view = ClusterView.EMPTY.withInitialize(SYSID, 1).withConfig(GlobalConfig.of(Map.of("ttl", 30)));
    PgState pg = replica(Lsn.of(100 * MB), "m1");
    Map<String, PeerStatus> peers = new LinkedHashMap<>();
    DivergenceCheck divergence;
    FailsafeRound failsafe;
    NodeMemory memory = NodeMemory.INITIAL;
    String dcsError;
    ClusterView lastView;
    long now = Duration.ofMinutes(10).toNanos();
    Instant wallNow = Instant.parse("2026-06-01T12:00:00Z");
    boolean dcsDown;
    boolean leaseHeld;

    Fixture(String me) {
        // Switchovers demote at once unless a test turns draining on (SwitchoverRulesTest.drain*).
        settings = HaSettings.builder("orders", me).switchoverDrain(java.time.Duration.ZERO);
        for (String m : List.of("m1", "m2", "m3")) {
            view = view.withMember(member(m, Role.REPLICA, Lsn.of(100 * MB)));
        }
    }

    static Fixture as(String me) {
        return new Fixture(me);
    }

    HaInput input() {
        return new HaInput(settings.build(), dcsDown ? null : view, dcsDown ? dcsError : null, lastView, pg, peers,
                divergence, failsafe, memory, now, wallNow, leaseHeld);
    }

    Decision decide() {
        return HaDecider.decide(input());
    }

    // ------------------------------------------------------------------------------------------------ cluster

    Fixture leader(String name) {
        view = view.withLeader(new LeaderLock(name, 5, 5));
        return this;
    }

    Fixture noLeader() {
        view = view.withLeader(null);
        return this;
    }

    Fixture uninitialized() {
        view = view.withInitialize(null, -1);
        return this;
    }

    Fixture optime(long bytes) {
        view = view.withStatus(new ClusterStatus(Lsn.of(bytes), Map.of(), List.of(), 3));
        return this;
    }

    Fixture config(Map<String, Object> c) {
        view = view.withConfig(GlobalConfig.of(c).withVersion(2));
        return this;
    }

    Fixture paused() {
        return config(Map.of("pause", true));
    }

    Fixture failover(String leader, String candidate) {
        view = view.withFailover(new FailoverRequest(leader, candidate, null, 9));
        return this;
    }

    Fixture sync(String leader, String... standbys) {
        view = view.withSync(new SyncState(leader, List.of(standbys), 4));
        settings.synchronousMode(SynchronousMode.ON);
        return this;
    }

    Fixture history(int... timelines) {
        List<TimelineHistory.Entry> e = new ArrayList<>();
        for (int tl : timelines) {
            e.add(new TimelineHistory.Entry(tl, Lsn.of(tl * MB), "promoted", null, null));
        }
        view = view.withHistory(new TimelineHistory(e, 6));
        return this;
    }

    Fixture member(String name, Tags tags) {
        Member m = view.members().get(name);
        view = view.withMember(new Member(name, m.connUrl(), m.apiUrl(), m.state(), m.role(), m.xlogLocation(),
                null, null, null, m.timeline(), tags, false, false, Map.of(), m.version()));
        return this;
    }

    static Member member(String name, Role role, Lsn pos) {
        int n = Integer.parseInt(name.substring(1));
        return new Member(name, "postgres://10.0.0." + n + ":5432/postgres", "http://10.0.0." + n + ":8008/patroni",
                "running", role, pos, null, null, "streaming", 1, Tags.DEFAULT, false, false, Map.of(), 1);
    }

    static HostPort addressOf(String name) {
        return new HostPort("10.0.0." + name.substring(1), 5432);
    }

    // ------------------------------------------------------------------------------------------------ peers

    Fixture peer(String name, long position) {
        peers.put(name, new PeerStatus(name, true, true, Lsn.of(position), 1, false, 1));
        return this;
    }

    Fixture peer(PeerStatus p) {
        peers.put(p.name(), p);
        return this;
    }

    // ------------------------------------------------------------------------------------------------ local

    static PgState primary(Lsn pos) {
        return new PgState(PgState.DataDir.VALID, PgState.Run.RUNNING, Role.PRIMARY, SYSID, 1, pos, null,
                null, null, false, List.of(), "", false, "");
    }

    static PgState replica(Lsn pos, String upstream) {
        return new PgState(PgState.DataDir.VALID, PgState.Run.RUNNING, Role.REPLICA, SYSID, 1, pos, pos, pos,
                upstream == null ? null : addressOf(upstream), upstream != null, List.of(), "", false, "");
    }

    static PgState stopped(Role role, PgState.Run run) {
        return new PgState(PgState.DataDir.VALID, run, role, SYSID, 1, Lsn.of(100 * MB), null, null, null, false,
                List.of(), "", false, "");
    }

    /** This replica's WAL replay is paused ({@code pg_wal_replay_pause()}). */
    Fixture replayPaused() {
        pg = new PgState(pg.dataDir(), pg.run(), pg.role(), pg.systemId(), pg.timeline(), pg.walPosition(),
                pg.receiveLsn(), pg.replayLsn(), pg.upstream(), pg.streaming(), pg.replication(),
                pg.synchronousStandbyNames(), pg.pendingRestart(), pg.detail(), true);
        return this;
    }

    Fixture pg(PgState s) {
        pg = s;
        return this;
    }

    Fixture timeline(int tl) {
        pg = new PgState(pg.dataDir(), pg.run(), pg.role(), pg.systemId(), tl, pg.walPosition(), pg.receiveLsn(),
                pg.replayLsn(), pg.upstream(), pg.streaming(), pg.replication(), pg.synchronousStandbyNames(),
                pg.pendingRestart(), pg.detail());
        return this;
    }

    Fixture replication(String ssn, ReplicationRow... rows) {
        pg = new PgState(pg.dataDir(), pg.run(), pg.role(), pg.systemId(), pg.timeline(), pg.walPosition(),
                pg.receiveLsn(), pg.replayLsn(), pg.upstream(), pg.streaming(), List.of(rows), ssn, false, "");
        return this;
    }

    static ReplicationRow row(String name, String syncState, long flush) {
        return new ReplicationRow(name, "streaming", syncState, Lsn.of(flush), Lsn.of(flush));
    }

    Fixture diverged(DivergenceCheck.Result r) {
        divergence = new DivergenceCheck(r, "test");
        return this;
    }

    Fixture memory(NodeMemory m) {
        memory = m;
        return this;
    }

    /**
     * {@code key} holds an undecodable value at {@code version}, and the view shows what the HA loop's gatherer puts
     * in its place (see {@code Gatherer.withLastGoodValues}): the last good config and history, nothing else.
     */
    Fixture undecodable(String key, long version) {
        Map<String, Long> u = new LinkedHashMap<>(view.undecodable());
        u.put(key, version);
        view = view.withUndecodable(u);
        switch (key) {
            case KeyLayout.CONFIG -> view = view.withConfig(view.config().withVersion(version));
            case KeyLayout.HISTORY -> view = view.withHistory(new TimelineHistory(view.history().entries(), version));
            case KeyLayout.SYNC -> view = view.withSync(SyncState.ABSENT.withVersion(version));
            case KeyLayout.STATUS -> view = view.withStatus(new ClusterStatus(null, Map.of(), List.of(), version));
            case KeyLayout.FAILOVER -> view = view.withFailover(FailoverRequest.ABSENT.withVersion(version));
            default -> {
            }
        }
        return this;
    }

    /** This member's lease is held in an open term (its last renewal was confirmed and none refused since). */
    Fixture leaseHeld() {
        leaseHeld = true;
        return this;
    }

    Fixture dcsDown(String why) {
        dcsDown = true;
        dcsError = why;
        lastView = view;
        return this;
    }
}
