package io.pgha.core.internal.rest;

import io.pgha.core.cluster.ClusterStatus;
import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.DcsVersion;
import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.ReplicationRow;
import io.pgha.core.cluster.Role;
import io.pgha.core.cluster.SyncState;
import io.pgha.core.cluster.TimelineHistory;
import io.pgha.core.config.Credentials;
import io.pgha.core.config.DataSize;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.HostPort;
import io.pgha.core.config.RestSettings;
import io.pgha.core.config.Tags;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.testkit.InMemoryDcs;
import io.pgha.core.time.SystemHaClock;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A cluster {@code demo} of three members in an {@link InMemoryDcs} (real time): m1 leads as primary, m2 streams
 * and is level with it, m3 streams 3 MiB behind. Tests pick a member, give it a {@link NodeStatus} and serve it
 * through a real {@link RestApi} on loopback.
 */
final class RestFixture implements AutoCloseable {

    static final String SCOPE = "demo";
    static final KeyLayout LAYOUT = KeyLayout.of(SCOPE);
    static final Lsn OPTIME = Lsn.of(0x5000000L);
    static final Lsn M3_POSITION = OPTIME.plus(-3L * 1024 * 1024);
    static final String SYSID = "7300000000000000042";
    static final Duration RETRY = Duration.ofMillis(300);
    static final Credentials CREDENTIALS = new Credentials("admin", "fixture-secret");

    final InMemoryDcs store = new InMemoryDcs(LAYOUT, SystemHaClock.INSTANCE, Duration.ofSeconds(30));
    private final Map<String, InMemoryDcs.Session> sessions = new HashMap<>();
    private final List<RestApi> apis = new ArrayList<>();

    static HaSettings settings(String name) {
        return HaSettings.builder(SCOPE, name).ttl(Duration.ofSeconds(30)).loopWait(Duration.ofSeconds(10))
                .retryTimeout(Duration.ofSeconds(10)).maximumLagOnFailover(DataSize.ofMegabytes(1)).build();
    }

    synchronized InMemoryDcs.Session session(String member) {
        return sessions.computeIfAbsent(member, m -> store.open(new DcsContext(LAYOUT, m, Duration.ofSeconds(30),
                RETRY, SystemHaClock.INSTANCE)));
    }

    // ------------------------------------------------------------------------------------------------ seeding

    /** The standard three members, m1 holding the lock, optime published, the bootstrap config written. */
    RestFixture standard() {
        try {
            session("m1").initialize(SYSID);
            session("m1").writeConfig(GlobalConfig.bootstrap(settings("m1")), DcsVersion.ABSENT);
            session("m1").touchMember(member("m1", Role.PRIMARY, OPTIME, Tags.DEFAULT));
            session("m2").touchMember(member("m2", Role.REPLICA, OPTIME, Tags.DEFAULT));
            session("m3").touchMember(member("m3", Role.REPLICA, M3_POSITION, Tags.DEFAULT));
            session("m1").acquireLeader();
            session("m1").writeStatus(new ClusterStatus(OPTIME, Map.of(), List.of(), DcsVersion.ABSENT),
                    Dcs.ANY_VERSION);
            session("m1").writeHistory(new TimelineHistory(List.of(new TimelineHistory.Entry(1, Lsn.of(0x3000000L),
                    "no recovery target specified", "2026-01-01T00:00:00+00:00", "m1")), DcsVersion.ABSENT),
                    Dcs.ANY_VERSION);
        } catch (DcsUnavailableException e) {
            throw new IllegalStateException(e);
        }
        return this;
    }

    /** Merges {@code patch} into the config key, as an operator would. */
    RestFixture config(Map<String, Object> patch) {
        store.adminPatchConfig(patch);
        return this;
    }

    RestFixture sync(String leader, String... standbys) {
        try {
            ClusterView v = store.peek();
            session(leader).writeSync(new SyncState(leader, List.of(standbys), v.sync().version()),
                    v.sync().version());
        } catch (DcsUnavailableException e) {
            throw new IllegalStateException(e);
        }
        return this;
    }

    RestFixture touch(Member m) {
        try {
            session(m.name()).touchMember(m);
        } catch (DcsUnavailableException e) {
            throw new IllegalStateException(e);
        }
        return this;
    }

    static Member member(String name, Role role, Lsn position, Tags tags) {
        boolean replica = role == Role.REPLICA;
        int n = Integer.parseInt(name.substring(1));
        return new Member(name, "postgres://10.0.0." + n + ":5432/postgres", "http://10.0.0." + n + ":8008/patroni",
                "running", role, position, replica ? position : null, replica ? position : null,
                replica ? "streaming" : null, 2, tags, false, false, Map.of(), DcsVersion.ABSENT);
    }

    // ------------------------------------------------------------------------------------------------ node states

    static PgState primaryPg(Lsn position) {
        return new PgState(PgState.DataDir.VALID, PgState.Run.RUNNING, Role.PRIMARY, SYSID, 2, position,
                null, null, null, false,
                List.of(new ReplicationRow("m2", "streaming", "async", position, position),
                        new ReplicationRow("m3", "streaming", "async", M3_POSITION, M3_POSITION)),
                "", false, "");
    }

    static PgState replicaPg(Lsn position, boolean streaming) {
        return new PgState(PgState.DataDir.VALID, PgState.Run.RUNNING, Role.REPLICA, SYSID, 2, position,
                position, position, new HostPort("10.0.0.1", 5432), streaming, List.of(), "", false, "");
    }

    static PgState stoppedPg(Role role) {
        return new PgState(PgState.DataDir.VALID, PgState.Run.STOPPED, role, SYSID, 2, OPTIME, null, null, null,
                false, List.of(), "", false, "");
    }

    /** The member as the HA loop would describe it right after a normal cycle. */
    NodeStatus snapshot(String name, PgState pg, boolean holdsLease) {
        Role role = pg.isRunningPrimary() && holdsLease ? Role.PRIMARY : pg.isRunningReplica() ? Role.REPLICA
                : Role.STOPPED;
        return new NodeStatus(settings(name), role, pg, null, store.peek(), true, Instant.now(), holdsLease, false,
                "no action", Duration.ofSeconds(1), Instant.now());
    }

    NodeStatus primary() {
        return snapshot("m1", primaryPg(OPTIME), true);
    }

    NodeStatus replica(String name, Lsn position) {
        return snapshot(name, replicaPg(position, true), false);
    }

    // ------------------------------------------------------------------------------------------------ serving

    /** REST settings with the fixture's credentials (what {@link Http#to} sends). */
    static RestSettings.Builder rest() {
        return RestSettings.builder().credentials(CREDENTIALS);
    }

    /** Serves {@code backend} on a free loopback port. */
    RestApi serve(RestBackend backend, RestSettings.Builder b) {
        try {
            RestSettings rs = b.listen("127.0.0.1", 0).build();
            if (backend instanceof TestBackend t) {
                t.switchoverTiming(rs.switchoverPoll(), rs.switchoverTimeout());
            }
            RestApi api = RestApi.bind(rs);
            apis.add(api);
            api.start(backend);
            return api;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    TestBackend backend(NodeStatus s) {
        return new TestBackend(session(s.name()), settings(s.name()), s);
    }

    static Map<String, Object> map(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    @Override
    public void close() {
        apis.forEach(RestApi::close);
        store.outage(false);
        sessions.values().forEach(InMemoryDcs.Session::close);
    }
}
