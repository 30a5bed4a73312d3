package io.pgha.jdbc.spring;

import io.pgha.core.api.HaCluster;
import io.pgha.core.config.SynchronousMode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.util.unit.DataSize;

/**
 * {@code pgha.member.*}: this application runs a pgha member (its own PostgreSQL) for the application's lifetime.
 * Unset durations and sizes take {@code HaClusterBuilder}'s defaults (README, "Embedded in a service").
 */
@ConfigurationProperties("pgha.member")
public class PghaMemberProperties {

    /** The cluster's name (Patroni's scope). Required. */
    private String scope;

    /** This member's unique name. Required. */
    private String name;

    /** The store namespace the cluster's keys live under, as Patroni's. */
    private String namespace = "/service";

    /** The store the member holds its lease in. */
    private final PghaDataSourceProperties.Dcs dcs = new PghaDataSourceProperties.Dcs();

    /** This member's PostgreSQL. */
    private final Postgres postgres = new Postgres();

    /** The member's Patroni-compatible REST API. */
    private final Rest rest = new Rest();

    /** Leader lease time-to-live (builder default 30s). */
    private Duration ttl;

    /** Pause between HA cycles (builder default 10s). */
    private Duration loopWait;

    /** Timeout of store and PostgreSQL calls within a cycle (builder default 10s). */
    private Duration retryTimeout;

    /** A replica further behind than this is not promoted by a failover (builder default 1MB). */
    private DataSize maximumLagOnFailover;

    /** Synchronous replication: off or on (builder default off). */
    private SynchronousMode synchronousMode;

    /** How long a leader announces a planned hand-over before it demotes (builder default 1s). */
    private Duration switchoverDrain;

    /** What closing the member does with PostgreSQL (default STOP_POSTGRES). */
    private HaCluster.OnClose onClose;

    /** This member's PostgreSQL server. */
    public static class Postgres {

        /** Directory of the PostgreSQL binaries (pg_ctl, initdb, ...). Required. */
        private Path binDir;

        /** The data directory. Required. */
        private Path dataDir;

        /** pgha's own files for this member, outside the data directory. Required. */
        private Path nodeDir;

        /** Address PostgreSQL listens on. */
        private String listenHost = "0.0.0.0";

        /** Port PostgreSQL listens on. */
        private int listenPort = 5432;

        /** Host other members and clients reach PostgreSQL at. Required. */
        private String connectHost;

        /** Port other members and clients reach PostgreSQL at (default listen-port). */
        private Integer connectPort;

        /** Superuser name. */
        private String superuserName = "postgres";

        /** Superuser password. Required. */
        private String superuserPassword;

        /** Replication user name. */
        private String replicationName = "replicator";

        /** Replication user password. Required. */
        private String replicationPassword;

        /** postgresql.conf parameters. */
        private Map<String, String> parameters = new LinkedHashMap<>();

        /** Extra initdb arguments (bootstrap only). */
        private List<String> initdbArgs = new ArrayList<>();

        public Path getBinDir() {
            return binDir;
        }

        public void setBinDir(Path binDir) {
            this.binDir = binDir;
        }

        public Path getDataDir() {
            return dataDir;
        }

        public void setDataDir(Path dataDir) {
            this.dataDir = dataDir;
        }

        public Path getNodeDir() {
            return nodeDir;
        }

        public void setNodeDir(Path nodeDir) {
            this.nodeDir = nodeDir;
        }

        public String getListenHost() {
            return listenHost;
        }

        public void setListenHost(String listenHost) {
            this.listenHost = listenHost;
        }

        public int getListenPort() {
            return listenPort;
        }

        public void setListenPort(int listenPort) {
            this.listenPort = listenPort;
        }

        public String getConnectHost() {
            return connectHost;
        }

        public void setConnectHost(String connectHost) {
            this.connectHost = connectHost;
        }

        public Integer getConnectPort() {
            return connectPort;
        }

        public void setConnectPort(Integer connectPort) {
            this.connectPort = connectPort;
        }

        public String getSuperuserName() {
            return superuserName;
        }

        public void setSuperuserName(String superuserName) {
            this.superuserName = superuserName;
        }

        public String getSuperuserPassword() {
            return superuserPassword;
        }

        public void setSuperuserPassword(String superuserPassword) {
            this.superuserPassword = superuserPassword;
        }

        public String getReplicationName() {
            return replicationName;
        }

        public void setReplicationName(String replicationName) {
            this.replicationName = replicationName;
        }

        public String getReplicationPassword() {
            return replicationPassword;
        }

        public void setReplicationPassword(String replicationPassword) {
            this.replicationPassword = replicationPassword;
        }

        public Map<String, String> getParameters() {
            return parameters;
        }

        public void setParameters(Map<String, String> parameters) {
            this.parameters = parameters;
        }

        public List<String> getInitdbArgs() {
            return initdbArgs;
        }

        public void setInitdbArgs(List<String> initdbArgs) {
            this.initdbArgs = initdbArgs;
        }
    }

    /** The member's REST API. */
    public static class Rest {

        /** Address the REST API listens on. */
        private String listenHost = "0.0.0.0";

        /** Port of the REST API (0: a free port). */
        private int port = 8008;

        /** Basic-auth user of the mutating endpoints; the same on every member. Required. */
        private String username;

        /** Basic-auth password of the mutating endpoints. Required. */
        private String password;

        public String getListenHost() {
            return listenHost;
        }

        public void setListenHost(String listenHost) {
            this.listenHost = listenHost;
        }

        public int getPort() {
            return port;
        }

        public void setPort(int port) {
            this.port = port;
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
    }

    public String getScope() {
        return scope;
    }

    public void setScope(String scope) {
        this.scope = scope;
    }

    public String getName() {
        return name;
    }

    public void setName(String name) {
        this.name = name;
    }

    public String getNamespace() {
        return namespace;
    }

    public void setNamespace(String namespace) {
        this.namespace = namespace;
    }

    public PghaDataSourceProperties.Dcs getDcs() {
        return dcs;
    }

    public Postgres getPostgres() {
        return postgres;
    }

    public Rest getRest() {
        return rest;
    }

    public Duration getTtl() {
        return ttl;
    }

    public void setTtl(Duration ttl) {
        this.ttl = ttl;
    }

    public Duration getLoopWait() {
        return loopWait;
    }

    public void setLoopWait(Duration loopWait) {
        this.loopWait = loopWait;
    }

    public Duration getRetryTimeout() {
        return retryTimeout;
    }

    public void setRetryTimeout(Duration retryTimeout) {
        this.retryTimeout = retryTimeout;
    }

    public DataSize getMaximumLagOnFailover() {
        return maximumLagOnFailover;
    }

    public void setMaximumLagOnFailover(DataSize maximumLagOnFailover) {
        this.maximumLagOnFailover = maximumLagOnFailover;
    }

    public SynchronousMode getSynchronousMode() {
        return synchronousMode;
    }

    public void setSynchronousMode(SynchronousMode synchronousMode) {
        this.synchronousMode = synchronousMode;
    }

    public Duration getSwitchoverDrain() {
        return switchoverDrain;
    }

    public void setSwitchoverDrain(Duration switchoverDrain) {
        this.switchoverDrain = switchoverDrain;
    }

    public HaCluster.OnClose getOnClose() {
        return onClose;
    }

    public void setOnClose(HaCluster.OnClose onClose) {
        this.onClose = onClose;
    }
}
