package io.pgha.jdbc;

import io.pgha.core.config.ConfigSection;
import io.pgha.core.config.DataSize;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.spi.DcsProviders;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.Driver;
import java.sql.DriverManager;
import java.sql.DriverPropertyInfo;
import java.sql.SQLException;
import java.sql.SQLNonTransientConnectionException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code jdbc:pgha:} driver, for tools that take only a URL (HikariCP's {@code jdbcUrl}, Flyway, Liquibase,
 * Spring's {@code spring.datasource.url}):
 * {@code jdbc:pgha:zookeeper://zk1:2181,zk2:2181/orders/appdb?role=primary}, likewise {@code etcd://},
 * {@code consul://} and {@code rest://} (members' REST APIs).
 *
 * <p>Each driver instance keeps one {@link HaDataSource} per distinct URL and properties (the role aside: roles share
 * it), built on first use, so {@code DriverManager.getConnection} does not build a pool per call. They live until
 * {@link #close()}: for an application that wants to control that, {@link HaDataSource} is the better fit
 * (docs/decisions 0807). A write connection is checked against the current leadership on each call, since a pool in
 * front of the driver keeps it open across leader changes (see {@code FencedConnection}).
 */
public final class PghaDriver implements Driver, AutoCloseable {

    /** The instance {@link DriverManager} holds: the JDBC contract has a driver register itself when loaded. */
    private static final PghaDriver REGISTERED = new PghaDriver();

    static {
        try {
            DriverManager.registerDriver(REGISTERED);
        } catch (SQLException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** SQLState of a URL, property or class path that cannot work: pgjdbc's for an invalid property value. */
    static final String INVALID = "22023";
    private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m|h)");
    private static final String DCS_PREFIX = "dcs.";
    /** Driver properties; everything else but dcs.* goes to pgjdbc. */
    private static final Map<String, String> OWN = ownProperties();

    private final Map<String, HaDataSource> dataSources = new ConcurrentHashMap<>();

    public PghaDriver() {}

    private static Map<String, String> ownProperties() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("role", "primary | replica | any (default primary)");
        m.put("maxLagBytes", "bytes a replica may lag to serve replica/any reads (default 16777216)");
        m.put("namespace", "store namespace (default /service)");
        m.put("leaderWait", "how long a connect waits for a writable leader, e.g. 30s (default 30s)");
        m.put("drainWait", "how long a write connect is held while the leader drains (default 5s)");
        m.put("refreshInterval", "store re-read besides the watch (default 5s)");
        m.put("storeTimeout", "longest store call or GET /cluster (default 5s)");
        m.put("restPollInterval", "GET /cluster poll interval, rest only (default 1s)");
        m.put("restUser", "basic-auth user for GET /cluster, rest only");
        m.put("restPassword", "basic-auth password for GET /cluster, rest only");
        m.put("restScheme", "http | https, rest only (default http)");
        return m;
    }

    @Override
    public boolean acceptsURL(String url) {
        return PghaUrl.accepts(url);
    }

    /**
     * A connection from the shared {@link HaDataSource} of this URL and properties; {@code close()} returns it to
     * that DataSource's pool.
     *
     * @return null when {@code url} is not a {@code jdbc:pgha:} URL (the JDBC contract)
     * @throws SQLException {@value #INVALID} for a malformed URL, a bad property or a missing store module, naming
     *                      which; {@value FailoverErrors#NO_LEADER} when no leader answered within leaderWait
     */
    @Override
    public Connection connect(String url, Properties info) throws SQLException {
        if (!acceptsURL(url)) {
            return null;
        }
        PghaUrl u;
        Map<String, String> props;
        try {
            u = PghaUrl.parse(url);
            props = merge(u, info);
        } catch (IllegalArgumentException e) {
            throw new SQLNonTransientConnectionException(e.getMessage(), INVALID, e);
        }
        TargetRole role = role(props.remove("role"));
        String key = key(u, props);
        HaDataSource ds = dataSources.get(key);
        if (ds == null) {
            synchronized (dataSources) {
                ds = dataSources.get(key);
                if (ds == null) {
                    ds = build(u, props);
                    dataSources.put(key, ds);
                }
            }
        }
        if (role != TargetRole.PRIMARY) {
            return ds.withRole(role).getConnection();
        }
        HaDataSource shared = ds;
        Router.Borrowed b = shared.borrow();
        return FencedConnection.wrap(b.connection(), b.topology(), shared::topology);
    }

    /**
     * Closes every DataSource this driver built (their pools and store clients); a later connect builds afresh. For
     * the registered driver: {@code ((PghaDriver) DriverManager.getDriver(url)).close()}.
     */
    @Override
    public void close() {
        synchronized (dataSources) {
            dataSources.values().forEach(HaDataSource::close);
            dataSources.clear();
        }
    }

    /** How many DataSources this driver keeps now. */
    int dataSourceCount() {
        return dataSources.size();
    }

    /** The URL's query and the caller's properties; the same key in both must have the same value. */
    private static Map<String, String> merge(PghaUrl u, Properties info) {
        Map<String, String> out = new TreeMap<>(u.query());
        if (info != null) {
            for (String k : info.stringPropertyNames()) {
                String v = info.getProperty(k);
                String before = out.put(k, v);
                if (before != null && !before.equals(v)) {
                    throw new IllegalArgumentException("property " + k + " is given in the URL and in the "
                            + "properties with different values; give it once");
                }
            }
        }
        return out;
    }

    private static TargetRole role(String v) throws SQLException {
        if (v == null) {
            return TargetRole.PRIMARY;
        }
        try {
            return TargetRole.valueOf(v.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new SQLNonTransientConnectionException("role must be primary, replica or any (got '" + v + "')",
                    INVALID);
        }
    }

    /** What makes two connects share a DataSource: the URL without its query, and every property (role aside). */
    private static String key(PghaUrl u, Map<String, String> props) {
        StringBuilder b = new StringBuilder(u.source()).append("://").append(String.join(",", u.hosts()))
                .append('/').append(u.scope()).append('/').append(u.database());
        for (Map.Entry<String, String> e : props.entrySet()) {
            // Credentials are part of the key (a pool connects as one user); the password only as a digest.
            String v = isSecret(e.getKey()) ? sha256(e.getValue()) : e.getValue();
            b.append('\n').append(e.getKey()).append('=').append(v);
        }
        return b.toString();
    }

    private static boolean isSecret(String key) {
        return key.equalsIgnoreCase("password") || key.equals("restPassword") || key.toLowerCase(Locale.ROOT)
                .startsWith(DCS_PREFIX) && (key.contains("password") || key.contains("token")
                || key.contains("digest_auth"));
    }

    private static String sha256(String v) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(v.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }

    private static HaDataSource build(PghaUrl u, Map<String, String> props) throws SQLException {
        try {
            HaDataSourceBuilder b = HaDataSource.builder().database(u.database()).name("pgha-" + u.scope());
            Map<String, Object> dcs = new LinkedHashMap<>();
            boolean rest = u.source().equals("rest");
            String restUser = null;
            String restPassword = null;
            String restScheme = "http";
            for (Map.Entry<String, String> e : props.entrySet()) {
                String k = e.getKey();
                String v = e.getValue();
                if (k.startsWith(DCS_PREFIX)) {
                    if (rest) {
                        throw new IllegalArgumentException("property " + k + ": dcs.* settings apply to a store "
                                + "URL, not to jdbc:pgha:rest://");
                    }
                    dcs.put(k.substring(DCS_PREFIX.length()), v);
                    continue;
                }
                if (!rest && k.startsWith("rest")) {
                    throw new IllegalArgumentException("property " + k + " applies to jdbc:pgha:rest:// only");
                }
                switch (k) {
                    case "user" -> b.user(v);
                    case "password" -> b.password(v);
                    case "maxLagBytes" -> b.maxLag(DataSize.ofBytes(nonNegative(k, v)));
                    case "namespace" -> b.namespace(v);
                    case "leaderWait" -> b.leaderWait(duration(k, v));
                    case "drainWait" -> b.drainWait(duration(k, v));
                    case "refreshInterval" -> b.refreshInterval(duration(k, v));
                    case "storeTimeout" -> b.storeTimeout(duration(k, v));
                    case "restPollInterval" -> b.restPollInterval(duration(k, v));
                    case "restUser" -> restUser = v;
                    case "restPassword" -> restPassword = v;
                    case "restScheme" -> restScheme = scheme(v);
                    default -> b.property(k, v);
                }
            }
            if (rest) {
                List<String> urls = new ArrayList<>();
                for (String h : u.hosts()) {
                    urls.add(restScheme + "://" + h);
                }
                b.restUrls(urls, u.scope());
                if (restUser != null || restPassword != null) {
                    if (restUser == null || restPassword == null) {
                        throw new IllegalArgumentException("restUser and restPassword must be given together");
                    }
                    b.restCredentials(restUser, restPassword);
                }
            } else {
                b.dcs(storeFactory(u, dcs), u.scope());
            }
            return b.build();
        } catch (IllegalArgumentException e) {
            throw new SQLNonTransientConnectionException(e.getMessage(), INVALID, e);
        }
    }

    /** The store's factory, found through its module's {@code DcsProvider} (no compile-time dependency on it). */
    private static DcsFactory storeFactory(PghaUrl u, Map<String, Object> settings) {
        if (settings.containsKey("hosts") || settings.containsKey("host") || settings.containsKey("url")) {
            throw new IllegalArgumentException("dcs.hosts/dcs.host/dcs.url: the store's address comes from the URL");
        }
        Map<String, Object> values = new LinkedHashMap<>(settings);
        String section;
        switch (u.source()) {
            case "zookeeper" -> {
                section = "zookeeper";
                values.put("hosts", u.hosts());
            }
            case "etcd" -> {
                section = "etcd3";
                values.put("hosts", u.hosts());
            }
            case "consul" -> {
                section = "consul";
                if (u.hosts().size() != 1) {
                    throw new IllegalArgumentException("hosts: jdbc:pgha:consul:// takes one agent address (got "
                            + u.hosts().size() + "): Consul clients talk to their local agent");
                }
                values.put("host", u.hosts().get(0));
            }
            default -> throw new IllegalStateException("source " + u.source());
        }
        ConfigSection s = new ConfigSection("dcs", values);
        DcsFactory f;
        try {
            f = DcsProviders.fromConfig(section, s);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("jdbc:pgha:" + u.source() + "://: " + e.getMessage(), e);
        }
        List<String> unused = s.unusedKeys();
        if (!unused.isEmpty()) {
            throw new IllegalArgumentException("propert" + (unused.size() == 1 ? "y " : "ies ")
                    + String.join(", ", unused) + ": not a setting of the " + u.source() + " store module");
        }
        return f;
    }

    private static Duration duration(String key, String v) {
        Matcher m = DURATION.matcher(v.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("property " + key + " must be a duration: a whole number with ms, s, m "
                    + "or h, e.g. 30s (got '" + v + "')");
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            default -> Duration.ofHours(n);
        };
    }

    private static long nonNegative(String key, String v) {
        try {
            long n = Long.parseLong(v.trim());
            if (n >= 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new IllegalArgumentException("property " + key + " must be a whole number of bytes >= 0 (got '" + v
                + "')");
    }

    private static String scheme(String v) {
        if (!v.equals("http") && !v.equals("https")) {
            throw new IllegalArgumentException("property restScheme must be http or https (got '" + v + "')");
        }
        return v;
    }

    @Override
    public DriverPropertyInfo[] getPropertyInfo(String url, Properties info) {
        List<DriverPropertyInfo> out = new ArrayList<>();
        for (Map.Entry<String, String> e : OWN.entrySet()) {
            DriverPropertyInfo p = new DriverPropertyInfo(e.getKey(), info == null ? null
                    : info.getProperty(e.getKey()));
            p.description = e.getValue();
            out.add(p);
        }
        DriverPropertyInfo user = new DriverPropertyInfo("user", info == null ? null : info.getProperty("user"));
        user.required = true;
        user.description = "database user; every other property goes to pgjdbc";
        out.add(user);
        return out.toArray(new DriverPropertyInfo[0]);
    }

    @Override
    public int getMajorVersion() {
        return 0;
    }

    @Override
    public int getMinorVersion() {
        return 1;
    }

    /** Not JDBC compliant by itself: it hands out pgjdbc's connections, which are. */
    @Override
    public boolean jdbcCompliant() {
        return false;
    }

    @Override
    public Logger getParentLogger() {
        return Logger.getLogger("io.pgha.jdbc");
    }
}
