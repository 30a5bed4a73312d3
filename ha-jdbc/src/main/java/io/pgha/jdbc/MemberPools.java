package io.pgha.jdbc;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
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
            c.setConnectionTestQuery(WRITABLE_CHECK);
        }
        StringBuilder url = new StringBuilder("jdbc:postgresql://").append(key.host()).append(':')
                .append(key.port()).append('/').append(encode(database));
        char sep = '?';
        for (Map.Entry<String, String> e : params.entrySet()) {
            url.append(sep).append(encode(e.getKey())).append('=').append(encode(e.getValue()));
            sep = '&';
        }
        c.setJdbcUrl(url.toString());
        c.setUsername(user);
        c.setPassword(password);
        c.setExceptionOverride(new EvictingExceptionOverride(state -> onServerChange.accept(key, state)));
        c.setConnectionTimeout(attemptTimeout.toMillis());
        // A member that is down must not fail the pool's construction: the router waits and retries instead.
        c.setInitializationFailTimeout(-1);
        return new HikariDataSource(c);
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
        for (HikariDataSource p : pools.values()) {
            p.close();
        }
        pools.clear();
    }
}
