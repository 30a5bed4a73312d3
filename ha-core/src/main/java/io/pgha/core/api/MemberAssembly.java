package io.pgha.core.api;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.config.Credentials;
import io.pgha.core.config.Durations;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.ReloadableSettings;
import io.pgha.core.config.RestEndpoint;
import io.pgha.core.config.RestSettings;
import io.pgha.core.config.WatchdogMode;
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
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running parts of one member behind the {@link HaCluster} facade, and their wiring: the watchdog, the REST API
 * and the peer client, the DCS session, the HA loop with the observer that bridges it to the listeners and the
 * metrics, and the operator's admin. {@link #prepare()} runs on the caller of {@code start()}, the rest of the
 * assembly on a starter thread of its own (the store may be out of reach for a while); {@link #close()} takes the
 * parts down in the only safe order.
 *
 * <p>It also holds the start handshake: {@link #awaitStart()} returns once the member name is registered or refused,
 * or the store is out of reach, and {@link #startFailure()} and {@link #refusal()} then say whether the start failed.
 */
final class MemberAssembly {

    /** HaCluster's logger, as before the assembly had a class of its own: log settings keyed on it keep working. */
    private static final Logger LOG = LoggerFactory.getLogger(HaCluster.class);

    /** What the assembly needs from the member it belongs to. */
    interface Owner {
        /** True until the member's close begins: nothing is opened or started after that. */
        boolean running();

        /** Closes the whole member ({@link HaCluster#close()}). */
        void close();

        /** The HA loop published a status (after a cycle, a promotion, a fence). */
        void published(NodeStatus status);

        /** Something was done to PostgreSQL that the listeners of {@link HaCluster.PostgresEvent}s hear of. */
        void postgresEvent(HaCluster.PostgresEvent.Kind kind);
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
    private final HaCluster.OnClose onClose;
    private final WatchdogMode watchdogMode;
    private final Path watchdogDevice;
    private final String prefix;
    private final Owner owner;

    private volatile RestApi api;
    private volatile HttpPeerClient peers;
    private volatile Dcs dcs;
    private volatile HaLoop loop;
    private volatile ClusterAdmin admin;
    private volatile Thread starter;
    private volatile DeviceWatchdog.Selection watchdog;
    /** Signalled when {@code start()} may return: the name is registered or refused, or the store is out of reach. */
    private final Wakeup startSettled;
    private volatile boolean settled;
    private final AtomicBoolean startWaiting = new AtomicBoolean();
    private volatile MemberNameTakenException refusal;
    /** Why the start cannot succeed (settings the store refuses, a loop that cannot start); null while it can. */
    private volatile IllegalStateException startFailure;

    MemberAssembly(HaClusterBuilder b, HaSettings settings, MemberPostgres postgres, String prefix, Owner owner) {
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
        this.prefix = prefix;
        this.owner = owner;
        this.startSettled = clock.newWakeup();
    }

    /** What the member's store is opened with; the builder checks the store's expected guarantee against it. */
    static DcsContext dcsContext(HaSettings settings, HaClock clock) {
        return new DcsContext(new KeyLayout(settings.namespace(), settings.scope()), settings.name(), settings.ttl(),
                settings.retryTimeout(), clock);
    }

    // ------------------------------------------------------------------------------------------------ parts

    /** The HA loop, or null until the DCS session is open. */
    HaLoop loop() {
        return loop;
    }

    /** The operator's verbs, or null until the DCS session is open. */
    ClusterAdmin admin() {
        return admin;
    }

    /** The REST API's address, or null when it is off. */
    InetSocketAddress restAddress() {
        RestApi a = api;
        return a == null ? null : a.address();
    }

    // ------------------------------------------------------------------------------------------------ start

    /**
     * Selects the watchdog and binds the REST port, on the caller's thread: what the start fails on at once.
     *
     * @throws IllegalStateException when the watchdog is required but unusable, or the REST port cannot be bound;
     *         the message names the member
     */
    void prepare() {
        try {
            watchdog = DeviceWatchdog.select(watchdogMode, watchdogDevice, settings);
        } catch (IllegalStateException e) {
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
            throw new IllegalStateException(prefix + "cannot bind the REST API to " + restSettings.listenHost() + ":"
                    + restSettings.port() + ": " + e.getMessage(), e);
        }
    }

    /** Opens the DCS session and runs the HA loop on a starter thread; a caller of {@link #awaitStart()} waits. */
    void startInBackground() {
        startWaiting.set(true);
        starter = clock.startThread("pgha-start-" + settings.name(), this::openAndRun);
    }

    /**
     * Waits until the start is settled. Bounded in case a cycle hangs: the HA loop's own waits (a whole ttl for a
     * predecessor's lease, then a cycle) fit well within it. From its return on, a refusal or failure that comes
     * later closes the member on a thread of its own.
     */
    void awaitStart() {
        Duration bound = settings.ttl().multipliedBy(2).plus(settings.retryTimeout().multipliedBy(2));
        long deadline = clock.nanoTime() + bound.toNanos();
        try {
            while (!settled && owner.running() && clock.nanoTime() < deadline) {
                startSettled.awaitUntil(deadline);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!settled && owner.running()) {
            LOG.warn("{}the member name is not registered yet after {}; start() returns and the agent goes on in the "
                    + "background", prefix, Durations.format(bound));
        }
        startWaiting.set(false);
    }

    /** Why the start cannot succeed, or null. */
    IllegalStateException startFailure() {
        return startFailure;
    }

    /** Why the member name was refused, or null. */
    MemberNameTakenException refusal() {
        return refusal;
    }

    /** The member is closing: a caller of {@link #awaitStart()} returns now. */
    void wakeStartWaiter() {
        startSettled.signal();
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
                new MemberEndpoints("postgres://" + postgres.address() + "/postgres", apiUrl),
                observer(metrics), wd.watchdog(), wd.mode());
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
        if (!owner.running()) {
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

    /** What the HA loop tells the member: statuses and PostgreSQL events for the listeners, metrics, the start. */
    private HaObserver observer(HaMetrics metrics) {
        return new HaObserver() {
            @Override
            public void published(NodeStatus s) {
                owner.published(s);
            }

            @Override
            public void registered() {
                settle();
            }

            @Override
            public void restartBegan() {
                owner.postgresEvent(HaCluster.PostgresEvent.Kind.RESTARTING);
            }

            @Override
            public void restartEnded(boolean ok) {
                owner.postgresEvent(ok ? HaCluster.PostgresEvent.Kind.RESTARTED
                        : HaCluster.PostgresEvent.Kind.RESTART_FAILED);
            }

            @Override
            public void reloaded() {
                owner.postgresEvent(HaCluster.PostgresEvent.Kind.RELOADED);
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
                    clock.startThread("pgha-close-" + settings.name(), owner::close);
                }
            }
        };
    }

    /** The start cannot succeed: a {@code start()} still waiting throws {@code why}; the member closes itself. */
    private void failStart(String why, RuntimeException cause) {
        LOG.error("{}{}", prefix, why);
        startFailure = new IllegalStateException(prefix + why, cause);
        settle();
        owner.close();
    }

    /**
     * Another live process holds this member's name; the HA loop has stopped. A {@code start()} still waiting closes
     * the agent and throws; otherwise the agent closes itself here (on a thread of its own: this runs on the loop's).
     */
    private void onNameTaken(MemberNameTakenException e) {
        refusal = e;
        settle();
        if (!startWaiting.get()) {
            clock.startThread("pgha-close-" + settings.name(), owner::close);
        }
    }

    private Dcs openDcs() {
        Duration backoff = Duration.ofMillis(500);
        DcsContext ctx = dcsContext(settings, clock);
        while (owner.running()) {
            try {
                Dcs d = dcsFactory.open(ctx);
                if (!owner.running()) {
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

    // ------------------------------------------------------------------------------------------------ close

    /**
     * Stops the starter, the REST API and the HA loop, then (see {@link HaCluster.OnClose}) stops PostgreSQL before
     * giving up the leader lock, and ends the DCS session. Called once, by the member's close.
     */
    void close() {
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
            l.shutdown(onClose == HaCluster.OnClose.LEAVE_REPLICA_RUNNING, settings.retryTimeout().multipliedBy(2));
        } else {
            stopUnmanaged();
        }
        if (d != null) {
            d.close();
        }
        if (peers != null) {
            peers.close();
        }
        if (postgres.local() != null && onClose == HaCluster.OnClose.STOP_POSTGRES) {
            postgres.local().close();
        }
    }

    /**
     * Closed before the HA loop ran: no lock was ever held; PostgreSQL is stopped as {@link HaCluster.OnClose} says.
     */
    private void stopUnmanaged() {
        Postgres pg = postgres.port();
        if (onClose == HaCluster.OnClose.STOP_POSTGRES || !pg.probe().isRunningReplica()) {
            try {
                pg.stop(StopMode.FAST);
            } catch (PostgresException | RuntimeException e) {
                LOG.warn("{}stopping PostgreSQL on close failed ({}); fencing it", prefix, e.getMessage());
                pg.fence();
            }
        }
    }
}
