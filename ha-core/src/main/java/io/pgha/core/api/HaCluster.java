package io.pgha.core.api;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.Credentials;
import io.pgha.core.config.Durations;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.ReloadableSettings;
import io.pgha.core.config.RestEndpoint;
import io.pgha.core.config.RestSettings;
import io.pgha.core.config.WatchdogMode;
import io.pgha.core.internal.admin.AdminResult;
import io.pgha.core.internal.admin.ClusterAdmin;
import io.pgha.core.internal.ha.CycleReport;
import io.pgha.core.internal.ha.HaLoop;
import io.pgha.core.internal.ha.HaMetrics;
import io.pgha.core.internal.ha.HaObserver;
import io.pgha.core.internal.ha.MemberEndpoints;
import io.pgha.core.internal.ha.PeerClient;
import io.pgha.core.internal.rest.HttpPeerClient;
import io.pgha.core.internal.rest.RestApi;
import io.pgha.core.internal.rest.RestBackend;
import io.pgha.core.internal.rest.RestReload;
import io.pgha.core.internal.watchdog.DeviceWatchdog;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.spi.MemberNameTakenException;
import io.pgha.core.spi.Postgres;
import io.pgha.core.spi.PostgresException;
import io.pgha.core.spi.StopMode;
import io.pgha.core.time.HaClock;
import io.pgha.core.time.Wakeup;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Supplier;
import javax.net.ssl.SSLContext;
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
    private final DcsFactory dcsFactory;
    private final MemberPostgres postgres;
    /** Where a reload re-reads the member's own settings; null: a reload only makes PostgreSQL re-read its files. */
    private final Supplier<ReloadableSettings> reloadSource;
    private final RestSettings restSettings;
    private final String restAdvertisedHost;
    private final Credentials peerCredentials;
    /** No credentials of their own for the peers: they are sent the REST API's, and follow a reload of those. */
    private final boolean peersSendRestCredentials;
    private final SSLContext peerTls;
    private final HaClock clock;
    private final OnClose onClose;
    private final WatchdogMode watchdogMode;
    private final Path watchdogDevice;
    private final Listeners<RoleChange> roleListeners;
    private final Listeners<NodeStatus> statusListeners;
    private final Listeners<PostgresEvent> postgresEventListeners;
    private final String prefix;

    private final AtomicReference<State> state = new AtomicReference<>(State.LATENT);
    private final AtomicReference<Role> role = new AtomicReference<>(Role.STARTING);
    private volatile RestApi api;
    private volatile HttpPeerClient peers;
    private volatile Dcs dcs;
    private volatile HaLoop loop;
    private volatile ClusterAdmin admin;
    private volatile Thread starter;
    private volatile DeviceWatchdog.Selection watchdog;
    /** Signalled when {@link #start()} may return: the name is registered or refused, or the store is out of reach. */
    private final Wakeup startSettled;
    private volatile boolean settled;
    private final AtomicBoolean startWaiting = new AtomicBoolean();
    private volatile MemberNameTakenException refusal;
    /** Why the start cannot succeed (settings the store refuses, a loop that cannot start); null while it can. */
    private volatile IllegalStateException startFailure;

    HaCluster(HaClusterBuilder b, HaSettings settings, MemberPostgres postgres) {
        this.settings = settings;
        this.dcsFactory = b.dcs();
        this.postgres = postgres;
        this.restSettings = b.restSettings();
        this.restAdvertisedHost = b.restAdvertisedHost();
        this.peerTls = b.peerTlsContext();
        this.peerCredentials = b.peerCredentials() != null ? b.peerCredentials()
                : b.restSettings() == null ? null : b.restSettings().credentials();
        this.peersSendRestCredentials = b.peerCredentials() == null;
        this.clock = b.clock();
        this.onClose = b.onClose();
        this.watchdogMode = b.watchdogMode();
        this.watchdogDevice = b.watchdogDevice();
        this.reloadSource = b.reloadSource();
        this.prefix = settings.scope() + "/" + settings.name() + " - ";
        this.roleListeners = new Listeners<>("role-change", b.listenerExecutor(), prefix, b.listeners());
        this.statusListeners = new Listeners<>("status", b.listenerExecutor(), prefix, List.of());
        this.postgresEventListeners = new Listeners<>("postgres-event", b.listenerExecutor(), prefix, List.of());
        this.startSettled = clock.newWakeup();
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
            watchdog = DeviceWatchdog.select(watchdogMode, watchdogDevice, settings);
        } catch (IllegalStateException e) {
            state.set(State.CLOSED);
            throw new IllegalStateException(prefix + e.getMessage(), e);
        }
        if (watchdog.warning() != null) {
            LOG.warn("{}{}", prefix, watchdog.warning());
        }
        try {
            if (restSettings != null) {
                api = RestApi.bind(restSettings);
            }
        } catch (IOException e) {
            state.set(State.CLOSED);
            throw new IllegalStateException(prefix + "cannot bind the REST API to " + restSettings.listenHost() + ":"
                    + restSettings.port() + ": " + e.getMessage(), e);
        }
        startWaiting.set(true);
        starter = clock.startThread("pgha-start-" + settings.name(), this::openAndRun);
        LOG.info("{}started (REST API {}, PostgreSQL {}); registering the member name", prefix,
                api == null ? "off" : api.address(), postgres.address());
        awaitSettled();
        startWaiting.set(false);
        IllegalStateException failed = startFailure;
        if (failed != null) {
            close();
            throw failed;
        }
        MemberNameTakenException refused = refusal;
        if (refused != null) {
            close();
            throw new IllegalStateException(prefix + "refusing to start: " + refused.getMessage(), refused);
        }
        return this;
    }

    /**
     * Waits until the start is settled. Bounded in case a cycle hangs: the HA loop's own waits (a whole ttl for a
     * predecessor's lease, then a cycle) fit well within it.
     */
    private void awaitSettled() {
        Duration bound = settings.ttl().multipliedBy(2).plus(settings.retryTimeout().multipliedBy(2));
        long deadline = clock.nanoTime() + bound.toNanos();
        try {
            while (!settled && state.get() == State.STARTED && clock.nanoTime() < deadline) {
                startSettled.awaitUntil(deadline);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!settled && state.get() == State.STARTED) {
            LOG.warn("{}the member name is not registered yet after {}; start() returns and the agent goes on in the "
                    + "background", prefix, Durations.format(bound));
        }
    }

    private void settle() {
        settled = true;
        startSettled.signal();
    }

    /** Opens the DCS session (retrying with backoff while the store is unreachable), then runs the HA loop. */
    private void openAndRun() {
        Dcs d = openDcs();
        if (d == null) {
            return;
        }
        dcs = d;
        PeerClient peerClient = PeerClient.NONE;
        if (api != null) {
            peers = new HttpPeerClient(settings.scope(), settings.name(), peerCredentials, peerTls);
            peerClient = peers;
        }
        String apiUrl = api == null ? null : api.apiUrl(restAdvertisedHost != null ? restAdvertisedHost
                : postgres.address().host());
        DeviceWatchdog.Selection wd = watchdog;
        HaMetrics metrics = new HaMetrics();
        HaLoop l = new HaLoop(settings, d, postgres.port(), peerClient, clock,
                new MemberEndpoints("postgres://" + postgres.address() + "/postgres", apiUrl), new HaObserver() {
                    @Override
                    public void published(NodeStatus s) {
                        changeRole(s.role(), s.view() == null ? null : s.view().leaderName().orElse(null));
                        publishStatus(s);
                    }

                    @Override
                    public void registered() {
                        settle();
                    }

                    @Override
                    public void restartBegan() {
                        publishPostgresEvent(PostgresEvent.Kind.RESTARTING);
                    }

                    @Override
                    public void restartEnded(boolean ok) {
                        publishPostgresEvent(ok ? PostgresEvent.Kind.RESTARTED : PostgresEvent.Kind.RESTART_FAILED);
                    }

                    @Override
                    public void reloaded() {
                        publishPostgresEvent(PostgresEvent.Kind.RELOADED);
                    }

                    @Override
                    public void cycleTimed(Duration took) {
                        metrics.cycleTimed(took);
                    }

                    @Override
                    public void fenced(String why) {
                        metrics.fenced(why);
                    }

                    @Override
                    public void cycleCompleted(CycleReport r) {
                        metrics.cycleCompleted(r);
                        if (r.view() == null) {
                            // The store is out of reach: start() returns, the loop keeps trying.
                            settle();
                        }
                    }

                    @Override
                    public void nameTaken(MemberNameTakenException e) {
                        onNameTaken(e);
                    }

                    @Override
                    public void leaseTooShort(String problem) {
                        startFailure = new IllegalStateException(prefix + problem);
                        settle();
                        if (!startWaiting.get()) {
                            clock.startThread("pgha-close-" + settings.name(), HaCluster.this::close);
                        }
                    }
                }, wd.watchdog(), wd.mode());
        loop = l;
        if (reloadSource != null) {
            l.reloadSettingsFrom(reloadSource, ReloadableSettings.of(settings,
                    postgres.local() == null ? null : postgres.local().settings()));
        }
        if (reloadSource != null && api != null) {
            // As Patroni, a reload moves the REST API to a changed address and takes changed credentials; the
            // peers follow the credentials when they are sent the API's own.
            l.reloadRestWith(new RestReload(api, RestEndpoint.of(restSettings, restAdvertisedHost),
                    peersSendRestCredentials ? peers : null, postgres.address().host(), l::useApiUrl, prefix));
        }
        if (restSettings != null && restSettings.tls() != null) {
            // As Patroni, a reload reads the REST API's certificate, key and CA files again.
            l.alsoRereadOnReload(restSettings.tls()::reread);
        }
        // Without a REST API the verbs still run (HaCluster.switchover, ...), with the default timing.
        ClusterAdmin a = new ClusterAdmin(prefix, d, l::liveStatus, peerClient, settings, l::wakeup, clock,
                restSettings != null ? restSettings.switchoverPoll() : RestSettings.DEFAULT_SWITCHOVER_POLL,
                restSettings != null ? restSettings.switchoverTimeout() : null, l.operations());
        admin = a;
        if (api != null) {
            api.start(RestBackend.of(l, a, metrics));
        }
        if (state.get() != State.STARTED) {
            // close() ran meanwhile: it either saw this loop (and shut it down) or saw none (and stopped postgres).
            d.close();
            return;
        }
        try {
            l.start();
        } catch (RuntimeException e) {
            failStart("the HA loop cannot start: " + e.getMessage(), e);
        }
    }

    /** The start cannot succeed: a {@link #start()} still waiting throws {@code why}; the member closes itself. */
    private void failStart(String why, RuntimeException cause) {
        LOG.error("{}{}", prefix, why);
        startFailure = new IllegalStateException(prefix + why, cause);
        settle();
        close();
    }

    /**
     * Another live process holds this member's name; the HA loop has stopped. A {@link #start()} still waiting closes
     * the agent and throws; otherwise the agent closes itself here (on a thread of its own: this runs on the loop's).
     */
    private void onNameTaken(MemberNameTakenException e) {
        refusal = e;
        settle();
        if (!startWaiting.get()) {
            clock.startThread("pgha-close-" + settings.name(), this::close);
        }
    }

    /** What the member's store is opened with; the builder checks the store's expected guarantee against it. */
    static DcsContext dcsContext(HaSettings settings, HaClock clock) {
        return new DcsContext(new KeyLayout(settings.namespace(), settings.scope()), settings.name(), settings.ttl(),
                settings.retryTimeout(), clock);
    }

    private Dcs openDcs() {
        Duration backoff = Duration.ofMillis(500);
        DcsContext ctx = dcsContext(settings, clock);
        while (state.get() == State.STARTED) {
            try {
                Dcs d = dcsFactory.open(ctx);
                if (state.get() != State.STARTED) {
                    d.close();
                    return null;
                }
                return d;
            } catch (IllegalArgumentException e) {
                // A setting the store cannot honour (a ttl below its minimum lease, say): no retry can fix it.
                failStart("the DCS refuses this member's settings: " + e.getMessage(), e);
                return null;
            } catch (RuntimeException e) {
                LOG.warn("{}cannot open the DCS session yet ({}); retrying in {}", prefix, e.getMessage(),
                        Durations.format(backoff));
                settle();
                try {
                    clock.sleep(backoff.toNanos());
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return null;
                }
                Duration doubled = backoff.multipliedBy(2);
                backoff = doubled.compareTo(settings.loopWait()) > 0 ? settings.loopWait() : doubled;
            }
        }
        return null;
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
        startSettled.signal();
        LOG.info("{}closing", prefix);
        HaLoop l = loop;
        Thread s = starter;
        if (s != null && s != Thread.currentThread()) {
            s.interrupt();
        }
        if (api != null) {
            api.close();
        }
        Dcs d = dcs;
        if (l != null) {
            // Stops the loop and its actions, stops and fences PostgreSQL, and only then releases the lock.
            l.shutdown(onClose == OnClose.LEAVE_REPLICA_RUNNING, settings.retryTimeout().multipliedBy(2));
        } else {
            stopUnmanaged();
        }
        if (d != null) {
            d.close();
        }
        if (peers != null) {
            peers.close();
        }
        if (postgres.local() != null && onClose == OnClose.STOP_POSTGRES) {
            postgres.local().close();
        }
        changeRole(Role.CLOSED, null);
        LOG.info("{}closed", prefix);
    }

    /** Closed before the HA loop ran: no lock was ever held; PostgreSQL is stopped as {@link OnClose} says. */
    private void stopUnmanaged() {
        Postgres pg = postgres.port();
        if (onClose == OnClose.STOP_POSTGRES || !pg.probe().isRunningReplica()) {
            try {
                pg.stop(StopMode.FAST);
            } catch (PostgresException | RuntimeException e) {
                LOG.warn("{}stopping PostgreSQL on close failed ({}); fencing it", prefix, e.getMessage());
                pg.fence();
            }
        }
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
        HaLoop l = loop;
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
        HaLoop l = loop;
        return Optional.ofNullable(l == null ? null : l.lastView());
    }

    /** This member's name. */
    public String name() {
        return settings.name();
    }

    /** The REST API's address, or null when it is off. */
    public InetSocketAddress restAddress() {
        return api == null ? null : api.address();
    }

    /** The settings in force (local ones with the cluster's dynamic config applied). */
    public HaSettings settings() {
        HaLoop l = loop;
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
        ClusterAdmin a = admin;
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
