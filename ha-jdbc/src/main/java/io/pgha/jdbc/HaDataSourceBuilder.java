package io.pgha.jdbc;

import com.zaxxer.hikari.HikariConfig;
import io.micrometer.core.instrument.MeterRegistry;
import io.pgha.core.api.HaCluster;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.config.Credentials;
import io.pgha.core.config.TlsClient;
import io.pgha.core.config.DataSize;
import io.pgha.core.config.Durations;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.time.SystemHaClock;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * Settings of a {@link HaDataSource}. Every setting is checked by {@link #build()}, which names the setting and the
 * rule it breaks. Defaults: database {@code postgres}, role {@link TargetRole#PRIMARY}, maxLag 16 MB, leaderWait
 * 30 s, drainWait 5 s (at most leaderWait), refreshInterval 5 s, storeTimeout 5 s, restPollInterval 1 s.
 */
public final class HaDataSourceBuilder {

    static final Duration DEFAULT_LEADER_WAIT = Duration.ofSeconds(30);
    static final Duration DEFAULT_DRAIN_WAIT = Duration.ofSeconds(5);
    static final Duration DEFAULT_REFRESH_INTERVAL = Duration.ofSeconds(5);
    static final Duration DEFAULT_STORE_TIMEOUT = Duration.ofSeconds(5);
    static final Duration DEFAULT_REST_POLL_INTERVAL = Duration.ofSeconds(1);
    static final DataSize DEFAULT_MAX_LAG = DataSize.ofMegabytes(16);
    /**
     * Hikari's {@code connectionTimeout} in every pool: one attempt. A borrow makes as many as fit in leaderWait and
     * looks at the topology between them, so a thread stuck on a dead leader's pool moves on within this.
     */
    static final Duration ATTEMPT_TIMEOUT = Duration.ofMillis(250);
    /** Properties the DataSource sets itself: a user's value would break routing or verification. */
    private static final Set<String> RESERVED_PROPERTIES = Set.of("targetservertype", "user", "password",
            "loadbalancehosts", "hostrecheckseconds");
    private static final long HIKARI_DEFAULT_CONNECTION_TIMEOUT_MS = 30_000;

    private Dcs dcs;
    private DcsFactory dcsFactory;
    private String scope;
    private String namespace = KeyLayout.DEFAULT_NAMESPACE;
    private HaCluster cluster;
    private List<String> restUrls;
    private Credentials restCredentials;
    private TlsClient restTls;
    private Duration restPollInterval = DEFAULT_REST_POLL_INTERVAL;
    private String database = "postgres";
    private String user;
    private String password;
    private final Properties properties = new Properties();
    private final List<Consumer<HikariConfig>> hikari = new ArrayList<>();
    private TargetRole role = TargetRole.PRIMARY;
    private DataSize maxLag = DEFAULT_MAX_LAG;
    private Duration leaderWait = DEFAULT_LEADER_WAIT;
    /** Null: the default, {@link #DEFAULT_DRAIN_WAIT} or leaderWait if that is shorter. */
    private Duration drainWait;
    private Duration refreshInterval = DEFAULT_REFRESH_INTERVAL;
    private Duration storeTimeout = DEFAULT_STORE_TIMEOUT;
    private Object meterRegistry;
    private String name = "pgha";
    private boolean routeReadOnly;
    private boolean resolveCommits;

    HaDataSourceBuilder() {}

    /**
     * Follows the cluster through an open store adapter, read-only: only {@code read()}, {@code watchLeader()} and
     * {@code watchMembers()} are called, which create no lease and write no key. The caller keeps ownership: closing the DataSource leaves
     * {@code dcs} open.
     */
    public HaDataSourceBuilder dcs(Dcs dcs) {
        this.dcs = dcs;
        return this;
    }

    /**
     * Follows cluster {@code scope} through a store adapter's factory (e.g. {@code ZooKeeperDcs.connect(...)}); the
     * DataSource opens its own read-only client (never a lease) and closes it on {@link HaDataSource#close()}.
     */
    public HaDataSourceBuilder dcs(DcsFactory factory, String scope) {
        this.dcsFactory = factory;
        this.scope = scope;
        return this;
    }

    /** The store namespace of {@link #dcs(DcsFactory, String)} ({@code /service} by default, as Patroni's). */
    public HaDataSourceBuilder namespace(String namespace) {
        this.namespace = namespace;
        return this;
    }

    /** Follows the cluster through a running embedded member: its published status, no store connection of ours. */
    public HaDataSourceBuilder cluster(HaCluster member) {
        this.cluster = member;
        return this;
    }

    /**
     * Follows cluster {@code scope} by polling {@code GET /cluster} on its members' REST APIs (pgha's or Patroni's),
     * e.g. {@code List.of("http://db-1:8008", "http://db-2:8008")}: tried in turn, each call bounded by
     * storeTimeout. The only source without a push; see {@link #restPollInterval}.
     */
    public HaDataSourceBuilder restUrls(List<String> baseUrls, String scope) {
        this.restUrls = baseUrls == null ? null : List.copyOf(baseUrls);
        this.scope = scope;
        return this;
    }

    /** Basic-auth credentials sent with {@code GET /cluster}, for a REST API that asks for them (pgha's does not). */
    public HaDataSourceBuilder restCredentials(String username, String password) {
        this.restCredentials = new Credentials(username, password);
        return this;
    }

    /**
     * TLS for {@code https://} {@link #restUrls}: the CAs that sign the members' REST certificates ({@code cacert})
     * and, for a REST API with {@code verify_client: required}, a client certificate, e.g.
     * {@code TlsClient.builder("restTls").cacert(Path.of("/etc/pgha/ca.pem")).build()}. Default: the JDK's trust
     * store and no client certificate.
     */
    public HaDataSourceBuilder restTls(TlsClient v) {
        this.restTls = Objects.requireNonNull(v, "restTls");
        return this;
    }

    /** How often {@link #restUrls} polls {@code GET /cluster} (default 1 s): a leader change is seen within it. */
    public HaDataSourceBuilder restPollInterval(Duration v) {
        this.restPollInterval = v;
        return this;
    }

    public HaDataSourceBuilder database(String v) {
        this.database = v;
        return this;
    }

    public HaDataSourceBuilder user(String v) {
        this.user = v;
        return this;
    }

    public HaDataSourceBuilder password(String v) {
        this.password = v;
        return this;
    }

    /** A pgjdbc connection property passed through to every member's connections (e.g. {@code sslmode}). */
    public HaDataSourceBuilder property(String key, String value) {
        Objects.requireNonNull(key, "property key");
        Objects.requireNonNull(value, "value of property " + key);
        properties.setProperty(key, value);
        return this;
    }

    /**
     * The application's HikariCP settings, applied to every member's pool (pool size, timeouts, metrics tracker...).
     * Not allowed: what the DataSource sets itself ({@code jdbcUrl}, data source class, credentials, test query,
     * exception override, {@code connectionTimeout}: use {@link #leaderWait}).
     */
    public HaDataSourceBuilder hikari(Consumer<HikariConfig> settings) {
        hikari.add(Objects.requireNonNull(settings, "hikari"));
        return this;
    }

    public HaDataSourceBuilder role(TargetRole v) {
        this.role = v;
        return this;
    }

    /** How far behind the leader a replica may be to serve {@link TargetRole#REPLICA} and {@link TargetRole#ANY}. */
    public HaDataSourceBuilder maxLag(DataSize v) {
        this.maxLag = v;
        return this;
    }

    /** How long {@code getConnection()} waits for a writable leader before it throws SQLState 08001. */
    public HaDataSourceBuilder leaderWait(Duration v) {
        this.leaderWait = v;
        return this;
    }

    /**
     * How long a write borrow is held while the leader announces a planned hand-over (0: not held). Default 5 s, or
     * leaderWait if that is shorter; must not exceed leaderWait.
     */
    public HaDataSourceBuilder drainWait(Duration v) {
        this.drainWait = v;
        return this;
    }

    /** How often a store source re-reads the cluster besides the leader watch's pushes (members' lag, reachability). */
    public HaDataSourceBuilder refreshInterval(Duration v) {
        this.refreshInterval = v;
        return this;
    }

    /**
     * The longest one store call of a client opened by {@link #dcs(DcsFactory, String)} may take; for
     * {@link #restUrls}, the connect and response timeout of each {@code GET /cluster}.
     */
    public HaDataSourceBuilder storeTimeout(Duration v) {
        this.storeTimeout = v;
        return this;
    }

    /**
     * Registers the routing metrics ({@code pgha.jdbc.*}) in a Micrometer registry. Micrometer is optional: without
     * this call nothing touches it.
     */
    public HaDataSourceBuilder metrics(MeterRegistry registry) {
        this.meterRegistry = Objects.requireNonNull(registry, "registry");
        return this;
    }

    /**
     * A connection set read-only ({@code setReadOnly(true)}, as Spring's {@code @Transactional(readOnly = true)}
     * does) before its first statement reads from a replica within maxLag, or from the leader when none qualifies.
     * Default false. When on, connections take their physical connection at first use, and {@code Connection} calls
     * (not statements) go through a small handler.
     */
    public HaDataSourceBuilder routeReadOnly(boolean v) {
        this.routeReadOnly = v;
        return this;
    }

    /**
     * When a COMMIT is cut off by a failover, find out with {@code txid_status} on the leader whether it committed:
     * {@code commit()} then returns normally (it did) or throws {@value FailoverErrors#RECONNECT_AND_RERUN} (it did
     * not), and {@value FailoverErrors#OUTCOME_UNKNOWN} only when no leader could tell within leaderWait. Costs one
     * round trip per commit of a write transaction. Default false.
     */
    public HaDataSourceBuilder resolveCommits(boolean v) {
        this.resolveCommits = v;
        return this;
    }

    /** The {@code datasource} tag of the metrics and the prefix of the pools' names. */
    public HaDataSourceBuilder name(String v) {
        this.name = v;
        return this;
    }

    /**
     * Checks every setting, opens the store client if asked to, and starts following the cluster; returns at once
     * (the first borrow waits for the first topology, within leaderWait).
     *
     * @throws IllegalArgumentException naming the setting and the rule it breaks
     */
    public HaDataSource build() {
        int sources = (dcs != null ? 1 : 0) + (dcsFactory != null ? 1 : 0) + (cluster != null ? 1 : 0)
                + (restUrls != null ? 1 : 0);
        if (sources != 1) {
            throw new IllegalArgumentException("source: exactly one of dcs(Dcs), dcs(DcsFactory, scope), "
                    + "cluster(HaCluster) or restUrls(urls, scope) must be set (got " + sources + ")");
        }
        if (dcsFactory != null) {
            requireName("scope", scope);
            requireName("namespace", namespace);
        }
        List<URI> restBases = restUrls == null ? null : restBases();
        requirePositive("restPollInterval", restPollInterval);
        requireName("database", database);
        requireName("user", user);
        requireName("name", name);
        if (role == null) {
            throw new IllegalArgumentException("role must be PRIMARY, REPLICA or ANY (got null)");
        }
        if (maxLag == null) {
            throw new IllegalArgumentException("maxLag must be set (a size, e.g. DataSize.ofMegabytes(16))");
        }
        requirePositive("leaderWait", leaderWait);
        requirePositive("refreshInterval", refreshInterval);
        requirePositive("storeTimeout", storeTimeout);
        if (drainWait == null) {
            drainWait = DEFAULT_DRAIN_WAIT.compareTo(leaderWait) <= 0 ? DEFAULT_DRAIN_WAIT : leaderWait;
        } else if (drainWait.isNegative()) {
            throw new IllegalArgumentException("drainWait must be >= 0 (got " + format(drainWait) + ")");
        }
        if (drainWait.compareTo(leaderWait) > 0) {
            throw new IllegalArgumentException("drainWait must be <= leaderWait (got " + format(drainWait) + " > "
                    + format(leaderWait) + "): a borrow never waits longer than leaderWait");
        }
        for (String k : properties.stringPropertyNames()) {
            if (RESERVED_PROPERTIES.contains(k.toLowerCase(Locale.ROOT))) {
                throw new IllegalArgumentException("property " + k + " is set by HaDataSource itself (routing and "
                        + "verification depend on it); use user()/password() for credentials");
            }
        }
        HikariConfig template = hikariTemplate();

        TopologySource source;
        if (cluster != null) {
            source = new ClusterTopologySource(cluster);
        } else if (restBases != null) {
            source = new RestTopologySource(restBases, scope, restCredentials, restTls, restPollInterval,
                    storeTimeout);
        } else if (dcs != null) {
            source = new DcsTopologySource(dcs, false, refreshInterval);
        } else {
            // A read-only client: adapters create their lease only on the first write, and this one never writes.
            Dcs opened = dcsFactory.open(new DcsContext(new KeyLayout(namespace, scope),
                    "pgha-jdbc-" + UUID.randomUUID().toString().substring(0, 8), Duration.ofSeconds(30),
                    storeTimeout, SystemHaClock.INSTANCE));
            source = new DcsTopologySource(opened, true, refreshInterval);
        }
        RoutingMetrics metrics = meterRegistry == null ? RoutingMetrics.NONE
                : new MicrometerRoutingMetrics((MeterRegistry) meterRegistry, name);
        Router[] router = new Router[1];
        MemberPools pools = new MemberPools(template, database, user, password, properties, ATTEMPT_TIMEOUT,
                (key, state) -> router[0].serverChanged(key, state));
        router[0] = new Router(source, pools, leaderWait, drainWait, maxLag.bytes(), metrics, template.isAutoCommit());
        router[0].start();
        RoutingConnection.Options routing = routeReadOnly || resolveCommits
                ? new RoutingConnection.Options(routeReadOnly, resolveCommits, template.isAutoCommit()) : null;
        return new HaDataSource(router[0], role, true, routing);
    }

    private List<URI> restBases() {
        requireName("scope", scope);
        if (restUrls.isEmpty()) {
            throw new IllegalArgumentException("restUrls must name at least one REST API base URL, e.g. "
                    + "http://db-1:8008 (got none)");
        }
        List<URI> out = new ArrayList<>();
        for (String u : restUrls) {
            URI uri;
            try {
                uri = u == null ? null : new URI(u);
            } catch (URISyntaxException e) {
                uri = null;
            }
            if (uri == null || !("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))
                    || uri.getHost() == null || uri.getRawQuery() != null) {
                throw new IllegalArgumentException("restUrls: each must be an http(s) base URL with a host and no "
                        + "query, e.g. http://db-1:8008 (got '" + u + "')");
            }
            out.add(uri);
        }
        return out;
    }

    /** The user's Hikari settings, refused where they would override the DataSource's own. */
    private HikariConfig hikariTemplate() {
        HikariConfig c = new HikariConfig();
        for (Consumer<HikariConfig> h : hikari) {
            h.accept(c);
        }
        refuse(c.getJdbcUrl() != null, "jdbcUrl", "each member's URL comes from its member key");
        refuse(c.getDataSourceClassName() != null || c.getDataSource() != null || c.getDataSourceJNDI() != null,
                "dataSource/dataSourceClassName/dataSourceJNDI", "every pool uses pgjdbc's driver");
        refuse(c.getUsername() != null || c.getPassword() != null, "username/password",
                "use the builder's user() and password()");
        refuse(c.getConnectionTestQuery() != null, "connectionTestQuery",
                "write pools verify the primary with their own check");
        refuse(c.getExceptionOverride() != null || c.getExceptionOverrideClassName() != null, "exceptionOverride",
                "the DataSource's override evicts on 25006/57P0x/08xxx and tells the router");
        refuse(c.getConnectionTimeout() != HIKARI_DEFAULT_CONNECTION_TIMEOUT_MS, "connectionTimeout",
                "a borrow waits up to leaderWait, in attempts of " + ATTEMPT_TIMEOUT.toMillis() + " ms; set "
                        + "leaderWait instead");
        for (String k : c.getDataSourceProperties().stringPropertyNames()) {
            refuse(RESERVED_PROPERTIES.contains(k.toLowerCase(Locale.ROOT)), "dataSourceProperty " + k,
                    "HaDataSource sets it itself");
        }
        return c;
    }

    private static void refuse(boolean set, String setting, String why) {
        if (set) {
            throw new IllegalArgumentException("hikari: " + setting + " must not be set (" + why + ")");
        }
    }

    private static void requireName(String setting, String v) {
        if (v == null || v.isBlank()) {
            throw new IllegalArgumentException(setting + " must be a non-empty string (got "
                    + (v == null ? "none" : "'" + v + "'") + ")");
        }
    }

    private static void requirePositive(String setting, Duration d) {
        if (d == null || d.isZero() || d.isNegative()) {
            throw new IllegalArgumentException(setting + " must be > 0 (got " + format(d) + ")");
        }
    }

    private static String format(Duration d) {
        return d == null ? "none" : Durations.format(d);
    }
}
