package io.pgha.jdbc.spring;

import com.zaxxer.hikari.HikariConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.NestedConfigurationProperty;
import org.springframework.util.unit.DataSize;

/**
 * {@code pgha.datasource.*}: the application's {@code DataSource} becomes an {@code HaDataSource} following the
 * cluster through its store ({@code dcs.*}), its members' REST APIs ({@code rest-urls}) or the embedded member
 * ({@code pgha.member.*}). The defaults are {@code HaDataSourceBuilder}'s, except {@code route-read-only}, which is on:
 * {@code @Transactional(readOnly = true)} is how Spring applications say a transaction only reads.
 */
@ConfigurationProperties("pgha.datasource")
public class PghaDataSourceProperties {

    /** The cluster's name (Patroni's scope). Required with dcs.type or rest-urls. */
    private String scope;

    /** The store namespace the cluster's keys live under, as Patroni's. */
    private String namespace = "/service";

    /** Follow the cluster through its store (read-only: no lease, no key written). */
    private final Dcs dcs = new Dcs();

    /** TLS for https rest-urls: trusted CAs and a client certificate (Patroni's ctl settings). */
    private final RestTls restTls = new RestTls();

    /** Or follow it by polling GET /cluster on these REST API base URLs (pgha's or Patroni's), e.g. http://db-1:8008. */
    private List<String> restUrls = new ArrayList<>();

    /** Basic-auth user for GET /cluster, for a REST API that asks for it (with rest-password). */
    private String restUsername;

    /** Basic-auth password for GET /cluster (with rest-username). */
    private String restPassword;

    /** How often rest-urls polls GET /cluster: a leader change is seen within it. */
    private Duration restPollInterval = Duration.ofSeconds(1);

    /** The database every connection opens. */
    private String database = "postgres";

    /** The user every pool connects as. Required. */
    private String username;

    /** That user's password. */
    private String password;

    /** pgjdbc connection properties passed to every member's connections (e.g. sslmode). */
    private Map<String, String> properties = new LinkedHashMap<>();

    /**
     * HikariCP settings applied to each member's pool, under Hikari's own names (maximum-pool-size, idle-timeout,
     * ...). Not allowed: what the DataSource sets itself (jdbc-url, credentials, connection-timeout: use leader-wait).
     */
    @NestedConfigurationProperty
    private final HikariConfig hikari = new HikariConfig();

    /** How far behind the leader a replica may be to serve read-only transactions. */
    private DataSize maxLag = DataSize.ofMegabytes(16);

    /** How long getConnection() waits for a writable leader before it throws SQLState 08001. */
    private Duration leaderWait = Duration.ofSeconds(30);

    /**
     * How long a write borrow is held while the leader announces a planned hand-over (0: not held). Default 5s, or
     * leader-wait if that is shorter; must not exceed leader-wait.
     */
    private Duration drainWait;

    /** How often a store source re-reads the cluster besides the leader watch (members' lag, reachability). */
    private Duration refreshInterval = Duration.ofSeconds(5);

    /** The longest one store call may take; for rest-urls, each GET /cluster's connect and response timeout. */
    private Duration storeTimeout = Duration.ofSeconds(5);

    /**
     * A connection set read-only before its first statement (@Transactional(readOnly = true)) reads from a replica
     * within max-lag, or from the leader when none qualifies.
     */
    private boolean routeReadOnly = true;

    /** Resolve a COMMIT cut off by a failover with txid_status (one round trip per write transaction's commit). */
    private boolean resolveCommits = false;

    /** The datasource tag of the pgha.jdbc.* metrics and the prefix of the pools' names. */
    private String name = "pgha";

    /** TLS towards https rest-urls; nothing set = the JDK's trust store and no client certificate. */
    public static class RestTls {

        /** PEM CA certificates that sign the REST APIs' certificates. */
        private String cacert;

        /** PEM client certificate, for a REST API with verify_client: required (with keyfile). */
        private String certfile;

        /** PEM private key of certfile (PKCS#8, encrypted PKCS#8 or PKCS#1 RSA). */
        private String keyfile;

        /** Decrypts an encrypted keyfile. */
        private String keyfilePassword;

        /** Accept any server certificate, unchecked (tests only). */
        private boolean insecure;

        public String getCacert() {
            return cacert;
        }

        public void setCacert(String cacert) {
            this.cacert = cacert;
        }

        public String getCertfile() {
            return certfile;
        }

        public void setCertfile(String certfile) {
            this.certfile = certfile;
        }

        public String getKeyfile() {
            return keyfile;
        }

        public void setKeyfile(String keyfile) {
            this.keyfile = keyfile;
        }

        public String getKeyfilePassword() {
            return keyfilePassword;
        }

        public void setKeyfilePassword(String keyfilePassword) {
            this.keyfilePassword = keyfilePassword;
        }

        public boolean isInsecure() {
            return insecure;
        }

        public void setInsecure(boolean insecure) {
            this.insecure = insecure;
        }

        boolean isSet() {
            return cacert != null || certfile != null || keyfile != null || keyfilePassword != null || insecure;
        }
    }

    /** The store a DataSource follows. */
    public static class Dcs {

        /** The store: zookeeper, etcd (etcd3) or consul; its module (io.pgha:ha-dcs-*) must be on the class path. */
        private String type;

        /** The store's addresses, host:port (consul: one, the local agent). */
        private List<String> hosts = new ArrayList<>();

        /**
         * Further settings of the store module, under the names of its configuration section (as in the agent's
         * YAML), e.g. standalone, tick_time_ms, sync_limit, digest_auth, token.
         */
        private Map<String, String> settings = new LinkedHashMap<>();

        public String getType() {
            return type;
        }

        public void setType(String type) {
            this.type = type;
        }

        public List<String> getHosts() {
            return hosts;
        }

        public void setHosts(List<String> hosts) {
            this.hosts = hosts;
        }

        public Map<String, String> getSettings() {
            return settings;
        }

        public void setSettings(Map<String, String> settings) {
            this.settings = settings;
        }
    }

    public String getScope() {
        return scope;
    }

    public void setScope(String scope) {
        this.scope = scope;
    }

    public String getNamespace() {
        return namespace;
    }

    public void setNamespace(String namespace) {
        this.namespace = namespace;
    }

    public Dcs getDcs() {
        return dcs;
    }

    public RestTls getRestTls() {
        return restTls;
    }

    public List<String> getRestUrls() {
        return restUrls;
    }

    public void setRestUrls(List<String> restUrls) {
        this.restUrls = restUrls;
    }

    public String getRestUsername() {
        return restUsername;
    }

    public void setRestUsername(String restUsername) {
        this.restUsername = restUsername;
    }

    public String getRestPassword() {
        return restPassword;
    }

    public void setRestPassword(String restPassword) {
        this.restPassword = restPassword;
    }

    public Duration getRestPollInterval() {
        return restPollInterval;
    }

    public void setRestPollInterval(Duration restPollInterval) {
        this.restPollInterval = restPollInterval;
    }

    public String getDatabase() {
        return database;
    }

    public void setDatabase(String database) {
        this.database = database;
    }

    public String getUsername() {
        return username;
    }

    public void setUsername(String username) {
        this.username = username;
    }

    public String getPassword() {
        return password;
    }

    public void setPassword(String password) {
        this.password = password;
    }

    public Map<String, String> getProperties() {
        return properties;
    }

    public void setProperties(Map<String, String> properties) {
        this.properties = properties;
    }

    public HikariConfig getHikari() {
        return hikari;
    }

    public DataSize getMaxLag() {
        return maxLag;
    }

    public void setMaxLag(DataSize maxLag) {
        this.maxLag = maxLag;
    }

    public Duration getLeaderWait() {
        return leaderWait;
    }

    public void setLeaderWait(Duration leaderWait) {
        this.leaderWait = leaderWait;
    }

    public Duration getDrainWait() {
        return drainWait;
    }

    public void setDrainWait(Duration drainWait) {
        this.drainWait = drainWait;
    }

    public Duration getRefreshInterval() {
        return refreshInterval;
    }

    public void setRefreshInterval(Duration refreshInterval) {
        this.refreshInterval = refreshInterval;
    }

    public Duration getStoreTimeout() {
        return storeTimeout;
    }

    public void setStoreTimeout(Duration storeTimeout) {
        this.storeTimeout = storeTimeout;
    }

    public boolean isRouteReadOnly() {
        return routeReadOnly;
    }

    public void setRouteReadOnly(boolean routeReadOnly) {
        this.routeReadOnly = routeReadOnly;
    }

    public boolean isResolveCommits() {
        return resolveCommits;
    }

    public void setResolveCommits(boolean resolveCommits) {
        this.resolveCommits = resolveCommits;
    }

    public String getName() {
        return name;
    }

    public void setName(String name) {
        this.name = name;
    }
}
