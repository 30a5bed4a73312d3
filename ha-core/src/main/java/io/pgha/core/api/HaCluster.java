package io.pgha.core.api;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.Durations;
import io.pgha.core.config.HaSettings;
import io.pgha.core.internal.admin.AdminResult;
import io.pgha.core.internal.admin.ClusterAdmin;
import io.pgha.core.internal.ha.HaLoop;
import io.pgha.core.spi.MemberNameTakenException;
import io.pgha.core.time.HaClock;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HA agent of one member, embedded in a Java service: {@code HaCluster.builder()...start()} turns the service
 * into its local PostgreSQL's Patroni-style agent.
 *
 * <pre>{@code
 * HaCluster node = HaCluster.builder()
 *         .scope("orders").member("db-1")
 *         .dcs(ZooKeeperDcs.connect("zk1:2181,zk2:2181,zk3:2181"))
 *         .postgres(pg -> pg.binDir(Path.of("/usr/lib/postgresql/15/bin")).dataDir(Path.of("/var/lib/pgha/orders"))
 *                 .nodeDir(Path.of("/var/lib/pgha/orders-node")).listen("0.0.0.0", 5432)
 *                 .connectAddress("db-1.internal", 5432)
 *                 .superuser("postgres", secret).replication("replicator", secret2))
 *         .ttl(Duration.ofSeconds(30)).loopWait(Duration.ofSeconds(10)).retryTimeout(Duration.ofSeconds(10))
 *         .restApi(8008, "admin", restSecret)    // the same credentials on every member
 *         .onRoleChange(e -> log.info("now {}", e.newRole()))
 *         .start();
 * }</pre>
 *
 * <p>{@link #start()} validates everything, checks the PostgreSQL binaries and binds the REST port, then a background
 * thread opens the DCS session (retrying while the store is unreachable) and starts the HA loop; it returns once the
 * member's name is registered in the DCS, and throws when another live process uses that name (docs/decisions 0011).
 * {@link #close()} stops the loop and, by default, PostgreSQL.
 *
 * <p>The operator's verbs ({@link #switchover}, {@link #failover}, {@link #pause}, ...) are the same operations, with
 * the same checks, as Patroni's REST endpoints; a request that is refused or fails throws an
 * {@link IllegalStateException} whose message says why.
 */
public final class HaCluster implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(HaCluster.class);

    /** A change of {@link Role}, delivered to {@code onRoleChange} listeners. */
    public record RoleChange(Role oldRole, Role newRole, String leader, Instant at) {}

    /**
     * Something done to this member's PostgreSQL that neither a role change nor a status shows on its own,
     * delivered to {@link #onPostgresEvent} listeners: what Patroni's {@code on_restart} and {@code on_reload}
     * callbacks fire on. {@code role} is the member's role at the time.
     */
    public record PostgresEvent(Kind kind, Role role, Instant at) {
        /** What happened. */
        public enum Kind {
            /** The operator's restart begins: the server stops next (its stop and start are part of the restart). */
            RESTARTING,
            /** The operator's restart ended with the server running again. */
            RESTARTED,
            /** The operator's restart failed; the HA loop takes over from the state it left. */
            RESTART_FAILED,
            /** The server re-read its configuration: the operator's reload, or changed cluster-wide parameters. */
            RELOADED
        }
    }

    /** What {@link #close()} does with PostgreSQL. */
    public enum OnClose {
        /** Stop PostgreSQL (fast) and then give up the leader lock: the clean hand-over. */
        STOP_POSTGRES,
        /**
         * Leave a replica running. A primary is stopped all the same: once this member's lease is gone another
         * member will be promoted, and a primary left running would break rule S1.
         */
        LEAVE_REPLICA_RUNNING
    }

    private enum State {
        LATENT, STARTED, CLOSED
    }

    private final HaSettings settings;
    private final MemberPostgres postgres;
    private final HaClock clock;
    private final Listeners<RoleChange> roleListeners;
    private final Listeners<NodeStatus> statusListeners;
    private final Listeners<PostgresEvent> postgresEventListeners;
    private final String prefix;
    /** The running parts (REST API, DCS session, HA loop, ...): built by start(), taken down by close(). */
    private final MemberAssembly assembly;

    private final AtomicReference<State> state = new AtomicReference<>(State.LATENT);
    private final AtomicReference<Role> role = new AtomicReference<>(Role.STARTING);

    HaCluster(HaClusterBuilder b, HaSettings settings, MemberPostgres postgres) {
        this.settings = settings;
        this.postgres = postgres;
        this.clock = b.clock();
        this.prefix = settings.scope() + "/" + settings.name() + " - ";
        this.roleListeners = new Listeners<>("role-change", b.listenerExecutor(), prefix, b.listeners());
        this.statusListeners = new Listeners<>("status", b.listenerExecutor(), prefix, List.of());
        this.postgresEventListeners = new Listeners<>("postgres-event", b.listenerExecutor(), prefix, List.of());
        this.assembly = new MemberAssembly(b, settings, postgres, prefix, new MemberAssembly.Owner() {
            @Override
            public boolean running() {
                return state.get() == State.STARTED;
            }

            @Override
            public void close() {
                HaCluster.this.close();
            }

            @Override
            public void published(NodeStatus s) {
                changeRole(s.role(), s.view() == null ? null : s.view().leaderName().orElse(null));
                publishStatus(s);
            }

            @Override
            public void postgresEvent(PostgresEvent.Kind kind) {
                publishPostgresEvent(kind);
            }
        });
    }

    /** A builder; {@code HaCluster.builder()...start()} builds and starts a member. */
    public static HaClusterBuilder builder() {
        return new HaClusterBuilder();
    }

    // ------------------------------------------------------------------------------------------------ lifecycle

    /**
     * Starts the agent. Binds the REST port first, so a port in use fails here. Then it waits until the HA loop has
     * registered this member's name in the DCS (normally its first cycle) and returns; a DCS that is not reachable yet
     * does not fail it: it returns as soon as that is clear and the rest happens in the background.
     *
     * <p>When another live process holds the member name (docs/decisions 0011) the agent closes itself and this
     * throws. A name still held by the lease of a process of this member that died is waited out first, for up to
     * {@code ttl + retryTimeout}: a restart right after a crash waits for the old lease instead of failing.
     * Should the refusal come later (the store was unreachable at first), the agent closes itself and its role turns
     * {@link Role#CLOSED}.
     *
     * @throws IllegalStateException when called a second time, or after {@link #close()}; when the watchdog is
     *         required but its device is unusable or its timeout breaks a rule (the message says which); when the
     *         member name is in use by another live process (the cause is a {@link MemberNameTakenException}); when
     *         the store refuses the member's settings (a ttl below its minimum lease, say) or the HA loop cannot
     *         start (the lease the store granted is too short for the timings)
     */
    public HaCluster start() {
        if (!state.compareAndSet(State.LATENT, State.STARTED)) {
            throw new IllegalStateException(prefix + "start() was already called"
                    + (state.get() == State.CLOSED ? " and the cluster is closed" : ""));
        }
        try {
            assembly.prepare();
        } catch (IllegalStateException e) {
            state.set(State.CLOSED);
            throw e;
        }
        assembly.startInBackground();
        InetSocketAddress rest = assembly.restAddress();
        LOG.info("{}started (REST API {}, PostgreSQL {}); registering the member name", prefix,
                rest == null ? "off" : rest, postgres.address());
        assembly.awaitStart();
        IllegalStateException failed = assembly.startFailure();
        if (failed != null) {
            close();
            throw failed;
        }
        MemberNameTakenException refused = assembly.refusal();
        if (refused != null) {
            close();
            throw new IllegalStateException(prefix + "refusing to start: " + refused.getMessage(), refused);
        }
        return this;
    }

    /**
     * Stops the HA loop and the REST API, then (see {@link OnClose}) stops PostgreSQL before giving up the leader
     * lock, and ends the DCS session. Idempotent.
     */
    @Override
    public void close() {
        State was = state.getAndSet(State.CLOSED);
        if (was == State.CLOSED) {
            return;
        }
        assembly.wakeStartWaiter();
        LOG.info("{}closing", prefix);
        assembly.close();
        changeRole(Role.CLOSED, null);
        LOG.info("{}closed", prefix);
    }

    // ------------------------------------------------------------------------------------------------ queries

    /** This member's role now. */
    public Role role() {
        return role.get();
    }

    /**
     * What this member knows about itself and its cluster, as of its last HA cycle; empty until the DCS session is
     * open.
     */
    public Optional<NodeStatus> status() {
        HaLoop l = assembly.loop();
        return l == null ? Optional.empty() : Optional.of(l.status());
    }

    /** The current leader's name, as last read from the DCS. */
    public Optional<String> leader() {
        return lastView().flatMap(ClusterView::leaderName);
    }

    /** The members as last read from the DCS. */
    public List<Member> members() {
        return lastView().map(v -> List.copyOf(v.members().values())).orElse(List.of());
    }

    private Optional<ClusterView> lastView() {
        HaLoop l = assembly.loop();
        return Optional.ofNullable(l == null ? null : l.lastView());
    }

    /** This member's name. */
    public String name() {
        return settings.name();
    }

    /** The REST API's address, or null when it is off. */
    public InetSocketAddress restAddress() {
        return assembly.restAddress();
    }

    /** The settings in force (local ones with the cluster's dynamic config applied). */
    public HaSettings settings() {
        HaLoop l = assembly.loop();
        return l == null ? settings : l.effectiveSettings();
    }

    // ------------------------------------------------------------------------------------------------ operations

    /**
     * A graceful switchover from the current leader to {@code candidate} (null: the healthiest replica), with the
     * same checks as {@code POST /switchover}. Blocks until the new leader holds the lock or the wait times out.
     *
     * @return the outcome message
     * @throws IllegalStateException when the switchover is refused or fails, with the reason
     */
    public String switchover(String candidate) {
        String leader = leader().orElseThrow(() -> new IllegalStateException("switchover: the cluster has no leader"));
        return outcome("switchover", requireAdmin("switchover").switchover(leader, candidate, null));
    }

    /** A switchover at {@code at}: recorded now, carried out by the leader then (Patroni's scheduled switchover). */
    public String switchover(String candidate, OffsetDateTime at) {
        Objects.requireNonNull(at, "at");
        String leader = leader().orElseThrow(() -> new IllegalStateException("switchover: the cluster has no leader"));
        return outcome("switchover", requireAdmin("switchover").switchover(leader, candidate, at.toString()));
    }

    /** Removes a scheduled switchover. */
    public String cancelScheduledSwitchover() {
        return outcome("cancel the scheduled switchover",
                requireAdmin("cancel the scheduled switchover").cancelScheduledSwitchover());
    }

    /**
     * A manual failover to {@code candidate}, as {@code POST /failover}: it also works without a leader, and may
     * promote a lagging candidate (the operator's decision).
     */
    public String failover(String candidate) {
        Objects.requireNonNull(candidate, "a failover needs a candidate");
        return outcome("failover", requireAdmin("failover").failover(null, candidate, null));
    }

    /** Maintenance mode for the whole cluster: no automatic failover or PostgreSQL restarts until {@link #resume()}. */
    public void pause() {
        outcome("pause", requireAdmin("pause").pause());
    }

    public void resume() {
        outcome("resume", requireAdmin("resume").resume());
    }

    /**
     * What must hold for a restart to go ahead (Patroni's {@code POST /restart} conditions): this member's role
     * ({@link Role#PRIMARY} or {@link Role#REPLICA}; null = any), a running server older than {@code belowVersion}
     * ({@code X.Y}, or {@code X.Y.Z} before 10; null = any), a setting waiting for a restart ({@code pendingOnly}).
     * {@code timeout} (null = primaryStartTimeout) bounds how long a leader's PostgreSQL may take to be up again
     * before the leader gives up the lock, as Patroni's {@code timeout}.
     */
    public record RestartConditions(Role role, String belowVersion, boolean pendingOnly, Duration timeout) {
        /** Restart whatever the state. */
        public static final RestartConditions NONE = new RestartConditions(null, null, false);

        /** With no timeout of its own: a leader's restart may take primaryStartTimeout. */
        public RestartConditions(Role role, String belowVersion, boolean pendingOnly) {
            this(role, belowVersion, pendingOnly, null);
        }

        public RestartConditions {
            if (timeout != null && (timeout.isNegative() || timeout.isZero())) {
                throw new IllegalArgumentException("RestartConditions.timeout must be > 0 (got "
                        + Durations.format(timeout) + ")");
            }
        }
    }

    /**
     * Restarts this member's PostgreSQL now, in the role it runs in; as the leader it keeps the lock (a start that
     * takes longer than the conditions' timeout, or primaryStartTimeout without one, fails over, as for a crash).
     * Blocks until PostgreSQL runs again.
     *
     * @throws IllegalStateException when a condition does not hold ("restart conditions are not satisfied"), another
     *                               long action runs, or the restart fails
     */
    public String restart(RestartConditions conditions) {
        return outcome("restart", requireAdmin("restart").member().restart(null, roleName(conditions),
                conditions.belowVersion(), conditions.pendingOnly(), conditions.timeout()));
    }

    /**
     * Restarts this member's PostgreSQL at {@code at} (one scheduled restart at a time); its conditions are checked
     * then.
     */
    public String scheduleRestart(OffsetDateTime at, RestartConditions conditions) {
        Objects.requireNonNull(at, "at");
        return outcome("schedule a restart", requireAdmin("schedule a restart").member().restart(at.toString(),
                roleName(conditions), conditions.belowVersion(), conditions.pendingOnly(), conditions.timeout()));
    }

    /** Removes the restart scheduled on this member. */
    public String cancelScheduledRestart() {
        return outcome("cancel the scheduled restart",
                requireAdmin("cancel the scheduled restart").member().cancelScheduledRestart());
    }

    /**
     * Wipes this replica's data directory and clones it again from the leader. Refused on the leader, and while
     * another long action runs unless {@code force}: then a restart, start, rewind or clone running on this replica
     * is cancelled first (a bootstrap or a primary's start is not: it runs right after those). Returns once started.
     */
    public String reinitialize(boolean force) {
        return outcome("reinitialize", requireAdmin("reinitialize").member().reinitialize(force));
    }

    /**
     * Makes this member's PostgreSQL re-read its configuration (on the next HA cycle, which is woken for it). With
     * {@link HaClusterBuilder#reloadSettingsFrom} the member's own settings are re-read first (its tags, its own
     * parameters, pg_hba and pg_ident), as the REST API's {@code POST /reload} and {@code patronictl reload} do.
     */
    public String reload() {
        return outcome("reload", requireAdmin("reload").member().reload());
    }

    private static String roleName(RestartConditions c) {
        Objects.requireNonNull(c, "conditions");
        if (c.role() == null) {
            return null;
        }
        if (c.role() != Role.PRIMARY && c.role() != Role.REPLICA) {
            throw new IllegalArgumentException("RestartConditions.role must be PRIMARY, REPLICA or null (got "
                    + c.role() + ")");
        }
        return c.role() == Role.PRIMARY ? "primary" : "replica";
    }

    /**
     * Changes the cluster-wide dynamic config with a JSON merge patch (Patroni's {@code PATCH /config}: a null
     * value removes a key), refused when a member would have to ignore the result.
     *
     * @return the config now stored
     */
    public Map<String, Object> patchConfig(Map<String, ?> patch) {
        AdminResult r = requireAdmin("change the config").patchConfig(patch);
        outcome("change the config", r);
        return ((AdminResult.Done) r).document();
    }

    private ClusterAdmin requireAdmin(String what) {
        ClusterAdmin a = assembly.admin();
        if (state.get() != State.STARTED || a == null) {
            throw new IllegalStateException(what + ": the agent is " + (state.get() == State.CLOSED ? "closed"
                    : "not running yet (DCS session not open)"));
        }
        return a;
    }

    private static String outcome(String what, AdminResult r) {
        if (r.succeeded()) {
            return r.message();
        }
        String how = r instanceof AdminResult.Refused ? "refused" : r instanceof AdminResult.Conflict
                ? "conflicts with a concurrent change" : "failed";
        throw new IllegalStateException(what + " " + how + ": " + r.message());
    }

    // ------------------------------------------------------------------------------------------------ status

    /**
     * Calls {@code listener} with every status this member publishes (after each HA cycle, so also right after the
     * cycle a leader-key change wakes), on the {@link HaClusterBuilder#listenerExecutor listener executor}. It is how
     * an embedded consumer such as the routing DataSource follows the cluster without a store connection of its own.
     * The listener must return quickly: with the default executor it runs on the HA loop's thread.
     */
    public void onStatus(Consumer<NodeStatus> listener) {
        statusListeners.add(listener);
    }

    /** Stops calling a listener registered with {@link #onStatus}. */
    public void removeStatusListener(Consumer<NodeStatus> listener) {
        statusListeners.remove(listener);
    }

    /**
     * Calls {@code listener} when the operator's restart of this member's PostgreSQL begins and ends and when the
     * server reloads its configuration ({@link PostgresEvent}), on the {@link HaClusterBuilder#listenerExecutor
     * listener executor}, in the order they happen. The standalone agent runs Patroni's {@code on_restart} and
     * {@code on_reload} scripts from it.
     */
    public void onPostgresEvent(Consumer<PostgresEvent> listener) {
        postgresEventListeners.add(listener);
    }

    /** Stops calling a listener registered with {@link #onPostgresEvent}. */
    public void removePostgresEventListener(Consumer<PostgresEvent> listener) {
        postgresEventListeners.remove(listener);
    }

    private void publishPostgresEvent(PostgresEvent.Kind kind) {
        LOG.debug("{}postgres event: {}", prefix, kind);
        postgresEventListeners.deliver(new PostgresEvent(kind, role.get(), clock.wallTime()));
    }

    private void publishStatus(NodeStatus s) {
        statusListeners.deliver(s);
    }

    // ------------------------------------------------------------------------------------------------ roles

    private void changeRole(Role now, String leader) {
        Role old = role.getAndSet(now);
        if (old == now) {
            return;
        }
        roleListeners.deliver(new RoleChange(old, now, leader, clock.wallTime()));
    }
}
