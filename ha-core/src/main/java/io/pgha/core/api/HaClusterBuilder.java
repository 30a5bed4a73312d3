package io.pgha.core.api;

import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.config.Credentials;
import io.pgha.core.config.DataSize;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.HostPort;
import io.pgha.core.config.PostgresSettings;
import io.pgha.core.config.ReloadableSettings;
import io.pgha.core.config.RestSettings;
import io.pgha.core.config.SynchronousMode;
import io.pgha.core.config.Tags;
import io.pgha.core.config.TlsClient;
import io.pgha.core.config.WatchdogMode;
import io.pgha.core.internal.ha.HaLoop;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.spi.Postgres;
import io.pgha.core.time.HaClock;
import io.pgha.core.time.SystemHaClock;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import java.util.function.Supplier;
import javax.net.ssl.SSLContext;

/**
 * Builds an {@link HaCluster}. Every setting is checked in {@link #build()} (also called by {@link #start()}); a
 * bad value is an {@link IllegalArgumentException} naming the setting and the rule. Defaults are Patroni's. The HA
 * settings are {@link HaSettings}'s, set through this builder.
 */
public final class HaClusterBuilder {
    private final HaSettings.Builder ha = HaSettings.builder();
    private DcsFactory dcs;
    private PostgresSettings.Builder postgresSettings;
    private Postgres customPostgres;
    private Supplier<ReloadableSettings> reloadSource;
    private HostPort customPostgresAddress;
    private RestSettings restSettings;
    private String restAdvertisedHost;
    private Credentials peerCredentials;
    private TlsClient peerTls;
    private HaClock clock = SystemHaClock.INSTANCE;
    private HaCluster.OnClose onClose = HaCluster.OnClose.STOP_POSTGRES;
    private WatchdogMode watchdogMode = WatchdogMode.OFF;
    private Path watchdogDevice = Path.of("/dev/watchdog");
    private Executor listenerExecutor = Runnable::run;
    private final List<Consumer<HaCluster.RoleChange>> listeners = new ArrayList<>();

    HaClusterBuilder() {}

    /** The cluster name (required). */
    public HaClusterBuilder scope(String v) {
        ha.scope(v);
        return this;
    }

    /** This member's unique name (required); also its PostgreSQL's application name and slot name. */
    public HaClusterBuilder member(String v) {
        ha.name(v);
        return this;
    }

    /** The DCS prefix; default {@code /service}. */
    public HaClusterBuilder namespace(String v) {
        ha.namespace(v);
        return this;
    }

    /** The store, e.g. {@code ZooKeeperDcs.connect("zk1:2181")} (required). */
    public HaClusterBuilder dcs(DcsFactory v) {
        dcs = Objects.requireNonNull(v, "dcs");
        return this;
    }

    /**
     * The local PostgreSQL, configured on {@link PostgresSettings.Builder}. The member name and
     * {@link #allowReclone} are the member's: set them here, not there (a different value there is an error).
     */
    public HaClusterBuilder postgres(Consumer<PostgresSettings.Builder> configure) {
        PostgresSettings.Builder b = PostgresSettings.builder();
        configure.accept(b);
        postgresSettings = b;
        customPostgres = null;
        return this;
    }

    /** Another implementation of the Postgres port, reachable by other members at {@code address}. */
    public HaClusterBuilder postgres(Postgres implementation, HostPort address) {
        customPostgres = Objects.requireNonNull(implementation, "postgres");
        customPostgresAddress = Objects.requireNonNull(address, "address");
        postgresSettings = null;
        return this;
    }

    public HaClusterBuilder ttl(Duration v) {
        ha.ttl(v);
        return this;
    }

    public HaClusterBuilder loopWait(Duration v) {
        ha.loopWait(v);
        return this;
    }

    public HaClusterBuilder retryTimeout(Duration v) {
        ha.retryTimeout(v);
        return this;
    }

    public HaClusterBuilder maximumLagOnFailover(DataSize v) {
        ha.maximumLagOnFailover(v);
        return this;
    }

    public HaClusterBuilder primaryStartTimeout(Duration v) {
        ha.primaryStartTimeout(v);
        return this;
    }

    public HaClusterBuilder synchronousMode(SynchronousMode v) {
        ha.synchronousMode(v);
        return this;
    }

    public HaClusterBuilder synchronousModeStrict(boolean v) {
        ha.synchronousModeStrict(v);
        return this;
    }

    public HaClusterBuilder synchronousNodeCount(int v) {
        ha.synchronousNodeCount(v);
        return this;
    }

    public HaClusterBuilder failsafeMode(boolean v) {
        ha.failsafeMode(v);
        return this;
    }

    public HaClusterBuilder checkTimeline(boolean v) {
        ha.checkTimeline(v);
        return this;
    }

    public HaClusterBuilder usePgRewind(boolean v) {
        ha.usePgRewind(v);
        return this;
    }

    /**
     * Replication slots as Patroni keeps them (the leader keeps a physical slot per member, replicas stream through
     * theirs); cluster-wide ({@code postgresql.use_slots}), default true.
     */
    public HaClusterBuilder useSlots(boolean v) {
        ha.useSlots(v);
        return this;
    }

    /** How long the leader keeps the slot of a member whose key is gone ({@code member_slots_ttl}); default 30 min. */
    public HaClusterBuilder memberSlotsTtl(java.time.Duration v) {
        ha.memberSlotsTtl(v);
        return this;
    }

    /** Let pgha wipe and re-clone a diverged data directory when pg_rewind is off or fails; default false. */
    public HaClusterBuilder allowReclone(boolean v) {
        ha.allowReclone(v);
        return this;
    }

    /** Bootstrap the cluster in maintenance mode. */
    public HaClusterBuilder startPaused(boolean v) {
        ha.pause(v);
        return this;
    }

    /**
     * Further keys the first member writes to the DCS {@code config} key at bootstrap, as Patroni copies
     * {@code bootstrap.dcs} whole: e.g. {@code {"postgresql": {"parameters": {"work_mem": "8MB"}}}} makes those
     * server parameters cluster-wide. The settings set through this builder win over the same keys here.
     */
    public HaClusterBuilder bootstrapConfig(Map<String, ?> v) {
        ha.bootstrapConfig(v);
        return this;
    }

    public HaClusterBuilder tags(Tags v) {
        ha.tags(Objects.requireNonNull(v, "tags"));
        return this;
    }

    /**
     * How long this member, as leader, publishes that it is draining before a planned switchover (default 1 s; 0 =
     * demote at once): a routing DataSource stops borrowing from it and lets running transactions end, so a
     * switchover costs clients a wait, not an error. At most 60 s.
     */
    public HaClusterBuilder switchoverDrain(Duration v) {
        ha.switchoverDrain(Objects.requireNonNull(v, "switchoverDrain"));
        return this;
    }

    /**
     * Patroni-compatible REST API on {@code 0.0.0.0:port} (0 = a free port), its mutating endpoints behind basic auth
     * with these credentials. Give every member of the cluster the same: members send them to each other (failsafe
     * pings). {@link #restApi(RestSettings)} has the other settings, and the opt-out.
     */
    public HaClusterBuilder restApi(int port, String username, String password) {
        return restApi(RestSettings.builder().listen("0.0.0.0", port).credentials(username, password).build());
    }

    public HaClusterBuilder restApi(RestSettings v) {
        restSettings = v;
        return this;
    }

    /** The host other members and tools use to reach the REST API; default PostgreSQL's connect host. */
    public HaClusterBuilder restApiConnectHost(String host) {
        restAdvertisedHost = host;
        return this;
    }

    /** Basic-auth credentials for requests to other members' REST APIs; default the REST API's own. */
    public HaClusterBuilder peerCredentials(String username, String password) {
        peerCredentials = new Credentials(username, password);
        return this;
    }

    /**
     * TLS for requests to other members' REST APIs (Patroni's {@code ctl.certfile}, {@code keyfile}, {@code cacert},
     * {@code insecure}): the client certificate a peer with {@code verify_client} demands and the CAs that sign the
     * peers' server certificates. Default: the REST API's own {@link RestSettings#tls()} context (its certificate as
     * client certificate, its CA file as trust, as Patroni falls back to {@code restapi.*}), or the JDK's default
     * without TLS.
     */
    public HaClusterBuilder peerTls(TlsClient v) {
        peerTls = Objects.requireNonNull(v, "peerTls");
        return this;
    }

    /** What {@link HaCluster#close()} does with PostgreSQL; default {@link HaCluster.OnClose#STOP_POSTGRES}. */
    public HaClusterBuilder onClose(HaCluster.OnClose v) {
        onClose = Objects.requireNonNull(v, "onClose");
        return this;
    }

    /** Called on every role change, on the {@link #listenerExecutor}. */
    public HaClusterBuilder onRoleChange(Consumer<HaCluster.RoleChange> listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
        return this;
    }

    /**
     * Where listeners run; default: on the HA loop's thread, so they must be quick and must not block. Pass your
     * own executor for anything slow.
     */
    public HaClusterBuilder listenerExecutor(Executor v) {
        listenerExecutor = Objects.requireNonNull(v, "listenerExecutor");
        return this;
    }

    /**
     * Whether the leader keeps a Linux watchdog device alive, which resets the host if the agent stops (a paused
     * JVM, an agent that died while PostgreSQL outlives it); default {@link WatchdogMode#OFF}. The device's timeout
     * is read from sysfs and must be {@code > loopWait + retryTimeout} and {@code <=} the store's lease guarantee
     * minus the lease guard's margin; set it where the driver is loaded, e.g. {@code modprobe softdog soft_margin=25}.
     */
    public HaClusterBuilder watchdog(WatchdogMode v) {
        watchdogMode = Objects.requireNonNull(v, "watchdog");
        return this;
    }

    /** The watchdog device; default {@code /dev/watchdog}. */
    public HaClusterBuilder watchdogDevice(Path v) {
        watchdogDevice = Objects.requireNonNull(v, "watchdogDevice");
        return this;
    }

    /**
     * Where the operator's reload ({@code POST /reload}, {@code patronictl reload}, {@link HaCluster#reload()})
     * re-reads this member's own settings before PostgreSQL re-reads its files, as Patroni re-reads its YAML: its
     * tags, its own server parameters, pg_hba and pg_ident take effect then, and a non-null
     * {@link ReloadableSettings#rest()} moves the REST API to a changed address (one that cannot be bound keeps the
     * current one, with a warning), publishes a changed host in {@code api_url} and applies changed credentials to the
     * next requests. The standalone agent re-reads its file here. A source that throws fails the reload with its message, and nothing is applied. Default: none (a reload
     * only makes PostgreSQL re-read its files).
     */
    public HaClusterBuilder reloadSettingsFrom(Supplier<ReloadableSettings> source) {
        reloadSource = Objects.requireNonNull(source, "source");
        return this;
    }

    /** Time and threads; tests pass a manual clock. */
    public HaClusterBuilder clock(HaClock v) {
        clock = Objects.requireNonNull(v, "clock");
        return this;
    }

    /** Validates everything and builds a cluster that is not started yet. */
    public HaCluster build() {
        HaSettings settings = ha.build();
        if (dcs == null) {
            throw new IllegalArgumentException("dcs is required (e.g. ZooKeeperDcs.connect(\"zk1:2181\"))");
        }
        // The store may know its lease guarantee before connecting (ZooKeeper derives it from the servers' timing):
        // timings that cannot fit in it fail here, not in the background after start().
        String lease = HaLoop.timingProblem(settings,
                dcs.expectedLeaseGuarantee(MemberAssembly.dcsContext(settings, clock)), String.valueOf(dcs));
        if (lease != null) {
            throw new IllegalArgumentException(lease);
        }
        try {
            GlobalConfig.bootstrap(settings);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("bootstrapConfig: " + e.getMessage(), e);
        }
        if (postgresSettings == null && customPostgres == null) {
            throw new IllegalArgumentException("postgres is required (binDir, dataDir, nodeDir, listen, ...)");
        }
        MemberPostgres pg = customPostgres != null
                ? new MemberPostgres(customPostgres, null, customPostgresAddress)
                : MemberPostgres.local(postgresSettings, settings);
        return new HaCluster(this, settings, pg);
    }

    // Read by the constructors of HaCluster and MemberAssembly.

    DcsFactory dcs() {
        return dcs;
    }

    RestSettings restSettings() {
        return restSettings;
    }

    String restAdvertisedHost() {
        return restAdvertisedHost;
    }

    Credentials peerCredentials() {
        return peerCredentials;
    }

    /** The peers' TLS context: set, else the REST API's own, else null (the JDK's default). */
    SSLContext peerTlsContext() {
        if (peerTls != null) {
            return peerTls.sslContext();
        }
        return restSettings != null && restSettings.tls() != null ? restSettings.tls().sslContext() : null;
    }

    HaClock clock() {
        return clock;
    }

    Supplier<ReloadableSettings> reloadSource() {
        return reloadSource;
    }

    HaCluster.OnClose onClose() {
        return onClose;
    }

    WatchdogMode watchdogMode() {
        return watchdogMode;
    }

    Path watchdogDevice() {
        return watchdogDevice;
    }

    Executor listenerExecutor() {
        return listenerExecutor;
    }

    List<Consumer<HaCluster.RoleChange>> listeners() {
        return listeners;
    }

    /** {@link #build()} and {@link HaCluster#start()} in one. */
    public HaCluster start() {
        return build().start();
    }
}
