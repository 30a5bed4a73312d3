package io.pgha.jdbc;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.pgha.core.spi.DaemonThreadFactory;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.Driver;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;

/**
 * One HikariCP pool per member and purpose, created on first use from the user's Hikari settings. A <em>write</em>
 * pool only ever holds connections verified writable: new ones by pgjdbc ({@code targetServerType=primary}), idle
 * ones on checkout by {@link #WRITABLE_CHECK} (docs/decisions 0803).
 */
final class MemberPools implements AutoCloseable {

    /**
     * Run by Hikari on a connection idle for more than {@code aliveBypassWindowMs} (500 ms) before handing it out, in
     * place of the empty query of {@code isValid()}: one round trip either way. It fails (and Hikari discards the
     * connection) on a standby and on a server switched read-only; the message says why in Hikari's log. The failing
     * branch must not be a constant: PostgreSQL folds constant CASE branches at plan time, and would fail everywhere.
     */
    private static final Driver DRIVER = new org.postgresql.Driver();

    static final String WRITABLE_CHECK = "SELECT CASE WHEN pg_is_in_recovery() OR current_setting('transaction_read_only')"
            + " = 'on' THEN CAST('pgha: not a writable primary (in recovery: ' || pg_is_in_recovery()"
            + " || ', read only: ' || current_setting('transaction_read_only') || ')' AS int) END";

    /** A pool's identity: a member at one address, for writes or for reads. */
    record Key(String member, String host, int port, boolean write) {
        String purpose() {
            return write ? "write" : "read";
        }
    }

    private final HikariConfig template;
    private final String database;
    private final String user;
    private final String password;
    private final Properties pgProperties;
    private final Duration attemptTimeout;
    private final BiConsumer<Key, String> onServerChange;
    private final Map<Key, HikariDataSource> pools = new ConcurrentHashMap<>();
    /** How long a retired pool waits for its borrowed connections to come back before it is closed. */
    static final Duration RETIRE_GRACE = Duration.ofSeconds(30);

    private final ScheduledExecutorService retirer =
            Executors.newSingleThreadScheduledExecutor(new DaemonThreadFactory("pgha-jdbc-retire-pool"));
    private volatile boolean closed;

    /**
     * @param attemptTimeout Hikari's {@code connectionTimeout} for every pool: how long one attempt waits before the
     *                       router looks at the topology again
     */
    MemberPools(HikariConfig template, String database, String user, String password, Properties pgProperties,
                Duration attemptTimeout, BiConsumer<Key, String> onServerChange) {
        this.template = template;
        this.database = database;
        this.user = user;
        this.password = password;
        this.pgProperties = pgProperties;
        this.attemptTimeout = attemptTimeout;
        this.onServerChange = onServerChange;
    }

    HikariDataSource pool(Key key) {
        HikariDataSource p = pools.computeIfAbsent(key, this::create);
        if (closed) {
            p.close();
            throw new IllegalStateException("the DataSource is closed");
        }
        return p;
    }

    private HikariDataSource create(Key key) {
        HikariConfig c = new HikariConfig();
        template.copyStateTo(c);
        c.setPoolName((template.getPoolName() == null ? "pgha" : template.getPoolName()) + "-" + key.member() + "-"
                + key.purpose());
        c.setDriverClassName("org.postgresql.Driver");
        if (key.write()) {
            c.setConnectionTestQuery(WRITABLE_CHECK);
        }
        c.setJdbcUrl(url(key));
        c.setUsername(user);
        c.setPassword(password);
        c.setExceptionOverride(new EvictingExceptionOverride(state -> onServerChange.accept(key, state)));
        c.setConnectionTimeout(attemptTimeout.toMillis());
        // A member that is down must not fail the pool's construction: the router waits and retries instead.
        c.setInitializationFailTimeout(-1);
        return new HikariDataSource(c);
    }

    /** The pgjdbc URL of {@code key}'s pool: the user's pgjdbc properties, and for writes the primary checks. */
    private String url(Key key) {
        // The pgjdbc properties go into the URL, not addDataSourceProperty: copyStateTo hands every pool the
        // template's own Properties object, so a write pool's targetServerType=primary would leak into every pool
        // created after it (a replica's read pool could then never connect).
        Map<String, String> params = new LinkedHashMap<>();
        pgProperties.forEach((k, v) -> params.put((String) k, (String) v));
        if (key.write()) {
            params.put("targetServerType", "primary");
            // pgjdbc remembers a host's role JVM-wide for hostRecheckSeconds (10 s): a leader that was read-only for
            // a moment would be refused for that long after it is writable again. The check costs one SHOW.
            params.put("hostRecheckSeconds", "0");
        }
        StringBuilder url = new StringBuilder("jdbc:postgresql://").append(key.host()).append(':')
                .append(key.port()).append('/').append(encode(database));
        char sep = '?';
        for (Map.Entry<String, String> e : params.entrySet()) {
            url.append(sep).append(encode(e.getKey())).append('=').append(encode(e.getValue()));
            sep = '&';
        }
        return url.toString();
    }

    /**
     * One plain connection to {@code key}'s server, outside any pool and without the primary check (it may still be
     * promoting): what {@link PromotionGate} asks {@code pg_is_in_recovery()} on.
     */
    Connection openProbe(Key key, Duration timeout) throws SQLException {
        Properties props = new Properties(); // the user's pgjdbc properties are in the URL
        props.setProperty("user", user);
        if (password != null) {
            props.setProperty("password", password);
        }
        Duration bound = timeout.compareTo(attemptTimeout) < 0 ? timeout : attemptTimeout;
        String seconds = Long.toString(Math.max(1, (bound.toMillis() + 999) / 1000));
        props.setProperty("connectTimeout", seconds);
        props.setProperty("socketTimeout", seconds);
        props.setProperty("ApplicationName", "pgha-jdbc promotion probe");
        Connection c = DRIVER.connect(url(new Key(key.member(), key.host(), key.port(), false)), props);
        if (c == null) {
            throw new SQLException("pgjdbc refused the URL of " + key.member(), "08001");
        }
        return c;
    }

    /** Whether a pool for {@code key} exists now. */
    boolean has(Key key) {
        return pools.containsKey(key);
    }

    /**
     * Retires every write pool that does not serve {@code leader}: it leaves the map (the member's next leadership
     * gets a fresh pool), stops adding connections, soft-evicts (idle ones close now, borrowed ones when returned) and
     * is closed once nothing is borrowed from it, or after {@link #RETIRE_GRACE}. Keeping such a pool would leave its
     * connection adder trying a server that refuses it as a primary, backing off up to 5 s, so that the member's next
     * leadership would start late (docs/decisions 0812).
     *
     * @return the pools retired
     */
    int retireWritePoolsExcept(String leader) {
        int retired = 0;
        for (Map.Entry<Key, HikariDataSource> e : pools.entrySet()) {
            Key k = e.getKey();
            if (k.write() && !k.member().equals(leader) && pools.remove(k, e.getValue())) {
                HikariDataSource p = e.getValue();
                p.getHikariConfigMXBean().setMinimumIdle(0);
                p.getHikariPoolMXBean().softEvictConnections();
                closeWhenIdle(p, System.nanoTime() + RETIRE_GRACE.toNanos());
                retired++;
            }
        }
        return retired;
    }

    private void closeWhenIdle(HikariDataSource p, long deadline) {
        try {
            if (closed || p.getHikariPoolMXBean().getActiveConnections() == 0 || System.nanoTime() - deadline >= 0) {
                retirer.execute(p::close);
            } else {
                retirer.schedule(() -> closeWhenIdle(p, deadline), 50, TimeUnit.MILLISECONDS);
            }
        } catch (RejectedExecutionException e) {
            p.close(); // the DataSource is closing
        }
    }

    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    /** Pools serving {@code member} for {@code write}; none are created. */
    List<HikariDataSource> existing(String member, boolean write) {
        List<HikariDataSource> out = new ArrayList<>();
        pools.forEach((k, p) -> {
            if (k.member().equals(member) && k.write() == write) {
                out.add(p);
            }
        });
        return out;
    }

    List<Key> keys() {
        return List.copyOf(pools.keySet());
    }

    @Override
    public void close() {
        closed = true;
        retirer.shutdown(); // what is queued still runs: retired pools get closed
        for (HikariDataSource p : pools.values()) {
            p.close();
        }
        pools.clear();
        try {
            if (!retirer.awaitTermination(15, TimeUnit.SECONDS)) {
                retirer.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            retirer.shutdownNow();
        }
    }
}
