package io.pgha.core.config;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * How {@code io.pgha.core.postgres.LocalPostgres} runs one member's PostgreSQL. Built with {@link #builder()}; every rule is checked in
 * {@link Builder#build()} and a broken one is rejected with a message naming the setting. Nothing is clamped.
 *
 * <p>{@link #toString()} masks the passwords, so a settings object may be logged.
 *
 * @param memberName          this member's name: {@code application_name} of its replication connection, slot name
 * @param binDir              directory with {@code postgres}, {@code initdb}, {@code pg_basebackup}, ...
 * @param dataDir             the PostgreSQL data directory
 * @param nodeDir             this node's own files, outside the data directory: config file, hba file, passfile,
 *                            log. Base backups and rewinds copy the data directory, never this one
 * @param socketDir           directory for the unix socket; default {@code nodeDir/sock}
 * @param listenHost          {@code listen_addresses}
 * @param listenPort          {@code port}
 * @param connectAddress      where other members reach this PostgreSQL; default listenHost:listenPort when that is
 *                            one concrete address
 * @param superuser           superuser name (bootstrap, probes, checkpoints)
 * @param superuserPassword   its password
 * @param replicationUser     the role replicas stream and clone with
 * @param replicationPassword its password
 * @param rewindUser          the role pg_rewind connects as; default the superuser
 * @param rewindPassword      its password; default the superuser's
 * @param parameters          server parameters, applied over pgha's safe defaults
 * @param pgHba               the complete {@code pg_hba.conf}, one line each; empty means the cluster's
 *                            ({@code postgresql.pg_hba} in the config key), or else pgha's default
 * @param pgIdent             the complete {@code pg_ident.conf}, one line each; empty means the cluster's
 *                            ({@code postgresql.pg_ident} in the config key), or else an empty file
 * @param hbaNetworks         CIDR networks added to the default {@code pg_hba.conf} for logins and replication
 * @param runAsUser           the OS user that runs every PostgreSQL binary when the JVM runs as root
 * @param startTimeout        how long a start may take until the server accepts connections
 * @param stopTimeout         how long a stop may take
 * @param cloneTimeout        bound on one pg_basebackup or pg_rewind run
 * @param probeTimeout        bound on connecting and on one query for probes and short SQL steps
 * @param allowReclone        whether {@code LocalPostgres.reclone} may delete the data directory
 * @param usePgRewind         whether {@code LocalPostgres.rewind} may run pg_rewind
 * @param useSlots            set {@code primary_slot_name} (the slot name) on replicas of a {@code LocalPostgres} used
 *                            on its own; the upstream must have the slot ({@code LocalPostgres.createPhysicalSlot}).
 *                            In an HA member the cluster-wide {@code useSlots} ({@code postgresql.use_slots}) decides
 * @param dataChecksums       initdb with data checksums (pg_rewind needs them or {@code wal_log_hints})
 * @param initdbArgs          extra initdb arguments, e.g. {@code --locale=...}
 * @param stopWhenJvmDies     the postmaster gets a fast-shutdown signal if the JVM dies (see docs/decisions/0103)
 */
public record PostgresSettings(
        String memberName,
        Path binDir,
        Path dataDir,
        Path nodeDir,
        Path socketDir,
        String listenHost,
        int listenPort,
        HostPort connectAddress,
        String superuser,
        String superuserPassword,
        String replicationUser,
        String replicationPassword,
        String rewindUser,
        String rewindPassword,
        Map<String, String> parameters,
        List<String> pgHba,
        List<String> pgIdent,
        List<String> hbaNetworks,
        String runAsUser,
        Duration startTimeout,
        Duration stopTimeout,
        Duration cloneTimeout,
        Duration probeTimeout,
        boolean allowReclone,
        boolean usePgRewind,
        boolean useSlots,
        boolean dataChecksums,
        List<String> initdbArgs,
        boolean stopWhenJvmDies) {

    /** Longest unix socket path Linux accepts (sun_path is 108 bytes including the terminating NUL). */
    static final int MAX_SOCKET_PATH = 107;

    /** Parameters pgha writes itself: setting them through {@link #parameters} would break a node. */
    static final Set<String> MANAGED_PARAMETERS = Set.of("data_directory", "config_file", "hba_file", "ident_file",
            "port", "listen_addresses", "unix_socket_directories", "primary_conninfo", "primary_slot_name",
            "synchronous_standby_names", "hot_standby", "external_pid_file");

    /** pgha's defaults under {@link #parameters}: what replication, rewind and a small footprint need. */
    static final Map<String, String> DEFAULT_PARAMETERS = defaults();

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.\\-]{1,63}");
    private static final Pattern ROLE = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,62}");
    private static final Pattern PARAM = Pattern.compile("[a-z_][a-z0-9_.]*");

    private static Map<String, String> defaults() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("wal_level", "replica");
        m.put("wal_log_hints", "on");
        m.put("max_wal_senders", "10");
        m.put("max_replication_slots", "10");
        m.put("wal_keep_size", "128MB");
        m.put("hot_standby_feedback", "off");
        m.put("password_encryption", "scram-sha-256");
        m.put("logging_collector", "off");
        m.put("log_line_prefix", "%m [%p] ");
        return Map.copyOf(m);
    }

    public PostgresSettings {
        parameters = Map.copyOf(parameters);
        pgHba = List.copyOf(pgHba);
        pgIdent = List.copyOf(pgIdent);
        hbaNetworks = List.copyOf(hbaNetworks);
        initdbArgs = List.copyOf(initdbArgs);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding these values, to derive a changed copy. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.memberName = memberName;
        b.binDir = binDir;
        b.dataDir = dataDir;
        b.nodeDir = nodeDir;
        b.socketDir = socketDir;
        b.listenHost = listenHost;
        b.listenPort = listenPort;
        b.connectAddress = connectAddress;
        b.superuser = superuser;
        b.superuserPassword = superuserPassword;
        b.replicationUser = replicationUser;
        b.replicationPassword = replicationPassword;
        b.rewindUser = rewindUser;
        b.rewindPassword = rewindPassword;
        b.parameters = new LinkedHashMap<>(parameters);
        b.pgHba = new ArrayList<>(pgHba);
        b.pgIdent = new ArrayList<>(pgIdent);
        b.hbaNetworks = new ArrayList<>(hbaNetworks);
        b.runAsUser = runAsUser;
        b.startTimeout = startTimeout;
        b.stopTimeout = stopTimeout;
        b.cloneTimeout = cloneTimeout;
        b.probeTimeout = probeTimeout;
        b.allowReclone = allowReclone;
        b.usePgRewind = usePgRewind;
        b.useSlots = useSlots ? Boolean.TRUE : null;
        b.dataChecksums = dataChecksums;
        b.initdbArgs = new ArrayList<>(initdbArgs);
        b.stopWhenJvmDies = stopWhenJvmDies;
        return b;
    }

    /** The parameters in force: pgha's defaults, overridden by {@link #parameters}. */
    public Map<String, String> effectiveParameters() {
        Map<String, String> m = new LinkedHashMap<>(DEFAULT_PARAMETERS);
        m.putAll(parameters);
        return m;
    }

    /** Whether pg_rewind connects as its own role rather than the superuser. */
    public boolean hasSeparateRewindUser() {
        return !rewindUser.equals(superuser);
    }

    /** The host this node's own JDBC connections use: a wildcard listen address means loopback. */
    public String localConnectHost() {
        String first = listenHost.split(",")[0].trim();
        return switch (first) {
            case "*", "0.0.0.0", "" -> "127.0.0.1";
            case "::" -> "::1";
            default -> first;
        };
    }

    /** The replication slot name for this member: lower case, {@code [a-z0-9_]}. */
    public String slotName() {
        return slotNameFor(memberName);
    }

    /** PostgreSQL slot names allow only {@code [a-z0-9_]}: other characters become '_'. */
    public static String slotNameFor(String member) {
        StringBuilder b = new StringBuilder();
        for (char c : member.toLowerCase(java.util.Locale.ROOT).toCharArray()) {
            b.append((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ? c : '_');
        }
        return b.toString();
    }

    @Override
    public String toString() {
        return "PostgresSettings[memberName=" + memberName + ", binDir=" + binDir + ", dataDir=" + dataDir
                + ", nodeDir=" + nodeDir + ", socketDir=" + socketDir + ", listen=" + listenHost + ":" + listenPort
                + ", connectAddress=" + connectAddress + ", superuser=" + superuser + ", replicationUser="
                + replicationUser + ", rewindUser=" + rewindUser + ", passwords=****, parameters=" + parameters
                + ", pgHba=" + (pgHba.isEmpty() ? "default" : pgHba.size() + " lines") + ", pgIdent="
                + (pgIdent.isEmpty() ? "default" : pgIdent.size() + " lines") + ", hbaNetworks="
                + hbaNetworks + ", runAsUser=" + runAsUser + ", startTimeout=" + startTimeout + ", stopTimeout="
                + stopTimeout + ", cloneTimeout=" + cloneTimeout + ", probeTimeout=" + probeTimeout
                + ", allowReclone=" + allowReclone + ", usePgRewind=" + usePgRewind + ", useSlots=" + useSlots
                + ", dataChecksums=" + dataChecksums + ", initdbArgs=" + initdbArgs + ", stopWhenJvmDies="
                + stopWhenJvmDies + "]";
    }

    /** Fluent builder; {@link #build()} validates everything at once and names the offending setting. */
    public static final class Builder {
        private String memberName;
        private Path binDir;
        private Path dataDir;
        private Path nodeDir;
        private Path socketDir;
        private String listenHost = "127.0.0.1";
        private int listenPort = 5432;
        private HostPort connectAddress;
        private String superuser = "postgres";
        private String superuserPassword;
        private String replicationUser = "replicator";
        private String replicationPassword;
        private String rewindUser;
        private String rewindPassword;
        private Map<String, String> parameters = new LinkedHashMap<>();
        private List<String> pgHba = new ArrayList<>();
        private List<String> pgIdent = new ArrayList<>();
        private List<String> hbaNetworks = new ArrayList<>();
        private String runAsUser = "postgres";
        private Duration startTimeout = Duration.ofSeconds(60);
        private Duration stopTimeout = Duration.ofSeconds(60);
        private Duration cloneTimeout = Duration.ofHours(1);
        private Duration probeTimeout = Duration.ofSeconds(3);
        private Boolean allowReclone;
        private Boolean usePgRewind;
        private Boolean useSlots;
        private boolean dataChecksums = true;
        private List<String> initdbArgs = new ArrayList<>(List.of("--encoding=UTF8", "--locale=C"));
        private boolean stopWhenJvmDies = true;

        private Builder() {}

        public Builder memberName(String v) {
            memberName = v;
            return this;
        }

        public Builder binDir(Path v) {
            binDir = v;
            return this;
        }

        public Builder dataDir(Path v) {
            dataDir = v;
            return this;
        }

        public Builder nodeDir(Path v) {
            nodeDir = v;
            return this;
        }

        public Builder socketDir(Path v) {
            socketDir = v;
            return this;
        }

        public Builder listen(String host, int port) {
            listenHost = host;
            listenPort = port;
            return this;
        }

        public Builder connectAddress(String host, int port) {
            connectAddress = new HostPort(host, port);
            return this;
        }

        public Builder superuser(String name, String password) {
            superuser = name;
            superuserPassword = password;
            return this;
        }

        public Builder replication(String name, String password) {
            replicationUser = name;
            replicationPassword = password;
            return this;
        }

        public Builder rewind(String name, String password) {
            rewindUser = name;
            rewindPassword = password;
            return this;
        }

        public Builder parameter(String name, String value) {
            parameters.put(name, value);
            return this;
        }

        public Builder parameters(Map<String, String> v) {
            parameters = new LinkedHashMap<>(v);
            return this;
        }

        public Builder pgHba(List<String> lines) {
            pgHba = new ArrayList<>(lines);
            return this;
        }

        /** The complete {@code pg_ident.conf} (user name maps), one line each; over the cluster's. */
        public Builder pgIdent(List<String> lines) {
            pgIdent = new ArrayList<>(lines);
            return this;
        }

        public Builder hbaNetworks(List<String> cidrs) {
            hbaNetworks = new ArrayList<>(cidrs);
            return this;
        }

        public Builder runAsUser(String v) {
            runAsUser = v;
            return this;
        }

        public Builder startTimeout(Duration v) {
            startTimeout = v;
            return this;
        }

        public Builder stopTimeout(Duration v) {
            stopTimeout = v;
            return this;
        }

        public Builder cloneTimeout(Duration v) {
            cloneTimeout = v;
            return this;
        }

        public Builder probeTimeout(Duration v) {
            probeTimeout = v;
            return this;
        }

        public Builder allowReclone(boolean v) {
            allowReclone = v;
            return this;
        }

        public Builder usePgRewind(boolean v) {
            usePgRewind = v;
            return this;
        }

        /**
         * Fills in what the HA member decides ({@code HaCluster} calls this): the member name, and whether a diverged
         * data directory may be wiped and re-cloned; pg_rewind is then allowed, and the cluster-wide
         * {@code usePgRewind} setting decides whether it runs. A different value set here is an error naming both
         * settings, never silently replaced (docs/decisions/0006).
         */
        public Builder forMember(String member, boolean memberAllowsReclone) {
            if (memberName != null && !memberName.equals(member)) {
                throw new IllegalArgumentException("postgres memberName '" + memberName + "' differs from the member"
                        + " name '" + member + "': set it once, as the member name");
            }
            if (allowReclone != null && allowReclone != memberAllowsReclone) {
                throw new IllegalArgumentException("postgres allowReclone(" + allowReclone + ") differs from the"
                        + " member's allowReclone(" + memberAllowsReclone + "): set it once, on the member");
            }
            if (Boolean.FALSE.equals(usePgRewind)) {
                throw new IllegalArgumentException("postgres usePgRewind(false) cannot be set for an HA member:"
                        + " whether pg_rewind runs is the cluster-wide usePgRewind setting (postgresql.use_pg_rewind)");
            }
            if (useSlots != null) {
                throw new IllegalArgumentException("postgres useSlots(" + useSlots + ") cannot be set for an HA"
                        + " member: whether replicas stream through slots is the cluster-wide useSlots setting"
                        + " (postgresql.use_slots), so that the leader keeps exactly the slots replicas use");
            }
            memberName = member;
            allowReclone = memberAllowsReclone;
            usePgRewind = true;
            return this;
        }

        public Builder useSlots(boolean v) {
            useSlots = v;
            return this;
        }

        public Builder dataChecksums(boolean v) {
            dataChecksums = v;
            return this;
        }

        public Builder initdbArgs(List<String> v) {
            initdbArgs = new ArrayList<>(v);
            return this;
        }

        public Builder stopWhenJvmDies(boolean v) {
            stopWhenJvmDies = v;
            return this;
        }

        public PostgresSettings build() {
            require(memberName != null && NAME.matcher(memberName).matches(),
                    "memberName must be 1-63 characters of [A-Za-z0-9_.-] (got " + quote(memberName) + ")");
            requirePath(binDir, "binDir");
            requirePath(dataDir, "dataDir");
            requirePath(nodeDir, "nodeDir");
            Path data = dataDir.toAbsolutePath().normalize();
            Path node = nodeDir.toAbsolutePath().normalize();
            require(!node.startsWith(data), "nodeDir (" + node + ") must be outside dataDir (" + data
                    + "): base backups and pg_rewind copy the data directory, and this node's own files must not"
                    + " travel with it");
            require(!data.equals(node), "dataDir and nodeDir must differ (both are " + data + ")");
            Path sock = (socketDir == null ? node.resolve("sock") : socketDir.toAbsolutePath().normalize());
            int sockLen = sock.toString().getBytes(StandardCharsets.UTF_8).length + ("/.s.PGSQL." + listenPort).length();
            require(sockLen <= MAX_SOCKET_PATH, "the unix socket path " + sock + "/.s.PGSQL." + listenPort + " is "
                    + sockLen + " bytes, more than the " + MAX_SOCKET_PATH + " Linux allows: choose a shorter "
                    + (socketDir == null ? "nodeDir (the socket goes in nodeDir/sock) or set socketDir" : "socketDir"));
            require(listenHost != null && !listenHost.isBlank() && !listenHost.contains("'"),
                    "listenHost must be a host, address, list or '*' (got " + quote(listenHost) + ")");
            require(listenPort >= 1 && listenPort <= 65535, "listenPort must be 1..65535 (got " + listenPort + ")");
            HostPort connect = connectAddress;
            if (connect == null) {
                String h = listenHost.trim();
                require(!(h.equals("*") || h.equals("0.0.0.0") || h.equals("::") || h.contains(",")),
                        "connectAddress is required when listenHost is '" + h
                                + "': other members need one address to reach this node");
                connect = new HostPort(h, listenPort);
            }
            require(superuser != null && ROLE.matcher(superuser).matches(), "superuser must be a plain role name"
                    + " ([A-Za-z_][A-Za-z0-9_]*, up to 63 characters; got " + quote(superuser) + ")");
            requirePassword(superuserPassword, "superuser password");
            require(replicationUser != null && ROLE.matcher(replicationUser).matches(),
                    "replication user must be a plain role name (got " + quote(replicationUser) + ")");
            requirePassword(replicationPassword, "replication password");
            String rwUser = rewindUser == null ? superuser : rewindUser;
            String rwPassword = rewindUser == null ? superuserPassword : rewindPassword;
            require(ROLE.matcher(rwUser).matches(), "rewind user must be a plain role name (got " + quote(rwUser) + ")");
            requirePassword(rwPassword, "rewind password");
            require(!rwUser.equals(superuser) || rwPassword.equals(superuserPassword),
                    "rewind user is the superuser '" + superuser + "' but its password differs from the superuser"
                            + " password");
            require(!replicationUser.equals(superuser) || replicationPassword.equals(superuserPassword),
                    "replication user is the superuser '" + superuser + "' but its password differs from the"
                            + " superuser password");
            for (Map.Entry<String, String> e : parameters.entrySet()) {
                String k = e.getKey();
                require(k != null && PARAM.matcher(k).matches(), "parameters: " + quote(k) + " is not a parameter name");
                require(!MANAGED_PARAMETERS.contains(k), "parameters: " + k + " is managed by pgha (use "
                        + managedBy(k) + ")");
                require(e.getValue() != null && e.getValue().indexOf('\n') < 0 && e.getValue().indexOf('\0') < 0,
                        "parameters: the value of " + k + " must be one line");
            }
            for (String line : pgHba) {
                require(line != null && line.indexOf('\n') < 0, "pgHba: each entry must be one line");
            }
            for (String line : pgIdent) {
                require(line != null && line.indexOf('\n') < 0, "pgIdent: each entry must be one line");
            }
            for (String n : hbaNetworks) {
                require(n != null && n.matches("[0-9A-Fa-f.:]+/[0-9]{1,3}"),
                        "hbaNetworks: " + quote(n) + " is not a CIDR network such as 10.0.0.0/24");
            }
            require(runAsUser != null && !runAsUser.isBlank() && runAsUser.matches("[A-Za-z0-9_.][A-Za-z0-9_.\\-]*"),
                    "runAsUser must be an OS user name (got " + quote(runAsUser) + ")");
            requirePositive(startTimeout, "startTimeout");
            requirePositive(stopTimeout, "stopTimeout");
            requirePositive(cloneTimeout, "cloneTimeout");
            requirePositive(probeTimeout, "probeTimeout");
            require(probeTimeout.compareTo(Duration.ofSeconds(1)) >= 0,
                    "probeTimeout must be at least 1s (got " + probeTimeout + "): libpq and pgjdbc time out in"
                            + " whole seconds");
            for (String a : initdbArgs) {
                require(a != null && !a.isBlank(), "initdbArgs: empty argument");
                require(!a.startsWith("-D") && !a.startsWith("--pgdata") && !a.startsWith("-U")
                        && !a.startsWith("--username") && !a.startsWith("--pwfile"),
                        "initdbArgs: " + a + " is set by pgha (dataDir, superuser)");
            }
            return new PostgresSettings(memberName, binDir.toAbsolutePath().normalize(), data, node, sock,
                    listenHost.trim(), listenPort, connect, superuser, superuserPassword, replicationUser,
                    replicationPassword, rwUser, rwPassword, parameters, pgHba, pgIdent, hbaNetworks, runAsUser,
                    startTimeout, stopTimeout, cloneTimeout, probeTimeout, Boolean.TRUE.equals(allowReclone),
                    !Boolean.FALSE.equals(usePgRewind), Boolean.TRUE.equals(useSlots), dataChecksums,
                    initdbArgs, stopWhenJvmDies);
        }

        private static String managedBy(String k) {
            return switch (k) {
                case "port", "listen_addresses" -> "listen(host, port)";
                case "unix_socket_directories" -> "socketDir";
                case "data_directory" -> "dataDir";
                case "primary_conninfo", "primary_slot_name" -> "startReplica/follow and useSlots";
                case "synchronous_standby_names" -> "setSynchronousStandbyNames";
                case "hot_standby" -> "nothing: standbys always accept reads";
                default -> "nodeDir: pgha writes it there";
            };
        }

        private static void require(boolean ok, String message) {
            if (!ok) {
                throw new IllegalArgumentException("PostgresSettings: " + message);
            }
        }

        private static void requirePath(Path p, String name) {
            require(p != null, name + " is required");
        }

        private static void requirePassword(String p, String what) {
            require(p != null && !p.isEmpty(), what + " is required");
            require(p.indexOf('\n') < 0 && p.indexOf('\0') < 0 && p.indexOf('\r') < 0,
                    what + " must not contain line breaks or NUL");
        }

        private static void requirePositive(Duration d, String name) {
            require(d != null && !d.isNegative() && !d.isZero(), name + " must be a positive duration (got " + d + ")");
        }

        private static String quote(String s) {
            return s == null ? "null" : "'" + s + "'";
        }
    }
}
