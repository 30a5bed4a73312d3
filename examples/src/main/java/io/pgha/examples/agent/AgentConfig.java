package io.pgha.examples.agent;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.pgha.core.api.HaCluster;
import io.pgha.core.api.HaClusterBuilder;
import io.pgha.core.config.ConfigSection;
import io.pgha.core.config.Credentials;
import io.pgha.core.config.DataSize;
import io.pgha.core.config.HostPort;
import io.pgha.core.config.ReloadableSettings;
import io.pgha.core.config.RestEndpoint;
import io.pgha.core.config.RestSettings;
import io.pgha.core.config.RestTls;
import io.pgha.core.config.SynchronousMode;
import io.pgha.core.config.Tags;
import io.pgha.core.config.TlsClient;
import io.pgha.core.config.VerifyClient;
import io.pgha.core.config.WatchdogMode;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.spi.DcsProviders;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A member's configuration in Patroni's YAML layout, turned into an {@link HaClusterBuilder}: {@code scope},
 * {@code namespace}, {@code name}, {@code restapi}, one store section ({@code zookeeper}, {@code etcd3}/{@code etcd}
 * or {@code consul}), {@code bootstrap.dcs}, {@code postgresql}, {@code tags} and {@code watchdog}. Unknown keys are
 * reported by
 * {@link #warnings()}; a value of the wrong type is an {@link IllegalArgumentException} naming its key.
 */
public final class AgentConfig {

    private final HaCluster cluster;
    private final List<String> warnings = new ArrayList<>();
    private final String store;

    private AgentConfig(HaCluster cluster, String store) {
        this.cluster = cluster;
        this.store = store;
    }

    public static AgentConfig load(Path file) throws IOException {
        return load(file, Map.of());
    }

    /**
     * The file with Patroni's {@code PATRONI_*} variables of {@code env} over it (they win, as in Patroni); with
     * {@code PATRONI_CONFIGURATION} set, that document alone and {@code file} may be null.
     */
    public static AgentConfig load(Path file, Map<String, String> env) throws IOException {
        ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
        if (PatroniEnvironment.hasWholeConfiguration(env)) {
            return parse(mapping(PatroniEnvironment.WHOLE, () -> yaml.readValue(env.get(PatroniEnvironment.WHOLE),
                    Object.class)));
        }
        Map<String, Object> doc = read(file, env);
        return parse(doc, file, env);
    }

    /** The file with the environment's {@code PATRONI_*} variables over it, as {@link #load(Path, Map)} reads it. */
    static Map<String, Object> read(Path file, Map<String, String> env) {
        if (file == null || !Files.isReadable(file)) {
            throw new IllegalArgumentException("cannot read the configuration file " + file);
        }
        ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
        Map<String, Object> doc = mapping(file.toString(), () -> yaml.readValue(file.toFile(), Object.class));
        return PatroniEnvironment.apply(doc, env);
    }

    /**
     * What a reload takes from the document while the agent runs: {@code tags} and the member's own
     * {@code postgresql.parameters}, {@code pg_hba} and {@code pg_ident} (checked again by the member). The
     * callbacks, the agent's own, are read by {@link #callbackCommands}.
     */
    static ReloadableSettings reloadable(Map<String, Object> doc) {
        ConfigSection top = new ConfigSection("", doc);
        ConfigSection pg = top.section("postgresql");
        RestEndpoint rest = doc.containsKey("restapi") ? restEndpoint(top.section("restapi")) : null;
        return new ReloadableSettings(tags(top.section("tags")), pg.stringMap("parameters"), pg.strings("pg_hba"),
                pg.strings("pg_ident"), rest);
    }

    /**
     * Patroni's {@code restapi.listen}, {@code connect_address} (its host: the port published is the bound one) and
     * {@code authentication} (or pgha's explicit {@code allow_unauthenticated}): read at start, and again by a reload.
     */
    static RestEndpoint restEndpoint(ConfigSection rest) {
        HostPort listen = rest.hostPort("listen");
        if (listen == null) {
            throw new IllegalArgumentException("restapi.listen is required (host:port), e.g. 0.0.0.0:8008");
        }
        ConfigSection auth = rest.section("authentication");
        boolean open = rest.bool("allow_unauthenticated", false);
        if (auth.has("username") && open) {
            throw new IllegalArgumentException(rest.key("authentication") + " and "
                    + rest.key("allow_unauthenticated") + " exclude each other: remove one");
        }
        if (!auth.has("username") && !open) {
            throw new IllegalArgumentException(rest.key("authentication") + " is required ({username: ..., "
                    + "password: ...}, the same on every member): without it anyone who can reach "
                    + listen + " could " + RestSettings.MUTATING_ENDPOINTS + ". To accept that on a trusted "
                    + "network, set " + rest.key("allow_unauthenticated") + ": true instead");
        }
        Credentials credentials = open ? null
                : new Credentials(auth.requiredString("username"), auth.requiredString("password"));
        HostPort connect = rest.hostPort("connect_address");
        return new RestEndpoint(listen.host(), listen.port(), connect == null ? null : connect.host(), credentials,
                open);
    }

    private interface YamlRead {
        Object read() throws IOException;
    }

    private static Map<String, Object> mapping(String source, YamlRead read) {
        Object doc;
        try {
            doc = read.read();
        } catch (IOException e) {
            throw new IllegalArgumentException(source + ": not valid YAML (" + e.getMessage().lines().findFirst()
                    .orElse("") + ")", e);
        }
        if (!(doc instanceof Map)) {
            throw new IllegalArgumentException(source + ": expected a YAML mapping at the top level");
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> m = (Map<String, Object>) doc;
        return m;
    }

    /** Builds from an already parsed document (tests, the demo); a reload re-reads nothing. */
    public static AgentConfig parse(Map<String, Object> doc) {
        return parse(doc, null, Map.of());
    }

    /** With a {@code file}, a reload re-reads it (with {@code env} over it); without, a reload re-reads nothing. */
    private static AgentConfig parse(Map<String, Object> doc, Path file, Map<String, String> env) {
        ConfigSection top = new ConfigSection("", doc);
        HaClusterBuilder b = HaCluster.builder()
                .scope(top.requiredString("scope"))
                .member(top.requiredString("name"));
        String namespace = top.string("namespace", null);
        if (namespace != null) {
            b.namespace(namespace);
        }

        String store = null;
        for (String key : doc.keySet()) {
            if (DcsProviders.isStoreSection(key)) {
                if (store != null) {
                    throw new IllegalArgumentException("configure one store, not both '" + store + "' and '" + key
                            + "'");
                }
                store = key;
            }
        }
        if (store == null) {
            throw new IllegalArgumentException("a store section is required: zookeeper, etcd3 or consul");
        }
        DcsFactory dcs = DcsProviders.fromConfig(store, top.section(store));
        b.dcs(dcs);

        ConfigSection rest = top.section("restapi");
        if (doc.containsKey("restapi")) {
            RestEndpoint endpoint = restEndpoint(rest);
            RestSettings.Builder rs = RestSettings.builder().listen(endpoint.listenHost(), endpoint.port());
            if (endpoint.credentials() != null) {
                rs.credentials(endpoint.credentials());
            } else {
                rs.allowUnauthenticated();
            }
            RestTls tls = restTls(rest);
            if (tls != null) {
                rs.tls(tls);
            }
            b.restApi(rs.build());
            if (endpoint.connectHost() != null) {
                b.restApiConnectHost(endpoint.connectHost());
            }
            rest.ignore("allowlist", "allowlist_include_members", "http_extra_headers", "https_extra_headers",
                    "request_queue_size");
        }
        ConfigSection ctl = top.section("ctl");
        ConfigSection ctlAuth = ctl.section("authentication");
        if (ctlAuth.has("username")) {
            b.peerCredentials(ctlAuth.requiredString("username"), ctlAuth.requiredString("password"));
        }
        TlsClient peerTls = peerTls(ctl, rest);
        if (peerTls != null) {
            b.peerTls(peerTls);
        }

        ConfigSection dcsConfig = top.section("bootstrap").section("dcs");
        applyDynamic(b, dcsConfig);
        if (top.section("bootstrap").raw("dcs") instanceof Map<?, ?> whole) {
            // Copied whole into the config key at bootstrap, as Patroni does: postgresql.parameters, use_slots, ...
            @SuppressWarnings("unchecked")
            Map<String, ?> dcsDocument = (Map<String, ?>) whole;
            b.bootstrapConfig(dcsDocument);
        }
        top.section("bootstrap").ignore("method", "initdb", "post_bootstrap", "post_init", "users");

        ConfigSection pg = top.section("postgresql");
        b.postgres(p -> applyPostgres(p, pg));
        b.tags(tags(top.section("tags")));
        List<String> notes = watchdog(b, top.section("watchdog"));
        top.ignore("log");
        CallbackScripts scripts = new CallbackScripts(callbackCommands(pg.section("callbacks")),
                top.requiredString("scope"));
        // With a file to re-read, a reload may add callbacks to a member that started with none: listen from the start.
        boolean listen = !scripts.isEmpty() || file != null;
        if (listen) {
            b.onRoleChange(e -> scripts.roleChanged(e.oldRole(), e.newRole()));
        }

        if (file != null) {
            b.reloadSettingsFrom(new YamlReload(file, env, doc, scripts));
        }
        AgentConfig config = new AgentConfig(b.build(), store);
        if (listen) {
            config.cluster.onStatus(scripts::statusPublished);
            config.cluster.onPostgresEvent(scripts::postgresEvent);
        }
        config.warnings.addAll(notes);
        for (String k : top.unusedKeys()) {
            config.warnings.add("unknown setting '" + k + "' is ignored");
        }
        return config;
    }

    /**
     * Patroni's {@code restapi.certfile}, {@code keyfile}, {@code keyfile_password}, {@code cafile},
     * {@code verify_client} and {@code ciphers}; null (plain HTTP) without a {@code certfile}. The files are read
     * and the cipher list translated here, so a bad one fails the start naming its key.
     */
    private static RestTls restTls(ConfigSection rest) {
        String certfile = rest.string("certfile", null);
        if (certfile == null) {
            for (String k : List.of("keyfile", "keyfile_password", "cafile", "verify_client", "ciphers")) {
                if (rest.has(k)) {
                    throw new IllegalArgumentException(rest.key(k) + " needs " + rest.key("certfile") + ": without a "
                            + "certificate the REST API serves plain HTTP");
                }
            }
            return null;
        }
        RestTls.Builder t = RestTls.pem().certfile(Path.of(certfile));
        String keyfile = rest.string("keyfile", null);
        if (keyfile != null) {
            t.keyfile(Path.of(keyfile));
        }
        String password = rest.string("keyfile_password", null);
        if (password != null) {
            t.keyfilePassword(password);
        }
        String cafile = rest.string("cafile", null);
        if (cafile != null) {
            t.cafile(Path.of(cafile));
        }
        String verify = rest.string("verify_client", null);
        if (verify != null) {
            t.verifyClient(VerifyClient.parse(verify, rest.key("verify_client")));
        }
        String ciphers = rest.string("ciphers", null);
        if (ciphers != null) {
            t.ciphers(ciphers);
        }
        return t.build();
    }

    /**
     * The client side towards other members, from Patroni's {@code ctl} section with its fallbacks: each of
     * {@code certfile}, {@code keyfile}, {@code keyfile_password} from {@code ctl}, else from {@code restapi};
     * {@code cacert}, else {@code restapi.cafile}; {@code insecure}. Null when {@code ctl} has none of them: then the
     * REST API's own context serves, which is the same fallback.
     */
    private static TlsClient peerTls(ConfigSection ctl, ConfigSection rest) {
        List<String> keys = List.of("certfile", "keyfile", "keyfile_password", "cacert", "insecure");
        if (keys.stream().noneMatch(ctl::has)) {
            return null;
        }
        TlsClient.Builder t = TlsClient.builder();
        String certfile = ctl.string("certfile", rest.string("certfile", null));
        if (certfile != null) {
            t.certfile(Path.of(certfile));
            String keyfile = ctl.string("keyfile", rest.string("keyfile", null));
            if (keyfile != null) {
                t.keyfile(Path.of(keyfile));
            }
            String password = ctl.string("keyfile_password", rest.string("keyfile_password", null));
            if (password != null) {
                t.keyfilePassword(password);
            }
        }
        String cacert = ctl.string("cacert", rest.string("cafile", null));
        if (cacert != null) {
            t.cacert(Path.of(cacert));
        }
        t.insecure(ctl.bool("insecure", false));
        return t.build();
    }

    private static void applyDynamic(HaClusterBuilder b, ConfigSection d) {
        Duration ttl = d.seconds("ttl");
        if (ttl != null) {
            b.ttl(ttl);
        }
        Duration loopWait = d.seconds("loop_wait");
        if (loopWait != null) {
            b.loopWait(loopWait);
        }
        Duration retry = d.seconds("retry_timeout");
        if (retry != null) {
            b.retryTimeout(retry);
        }
        if (d.has("maximum_lag_on_failover")) {
            b.maximumLagOnFailover(DataSize.ofBytes(d.integer("maximum_lag_on_failover", 0)));
        }
        Duration pst = d.seconds("primary_start_timeout");
        if (pst == null) {
            pst = d.seconds("master_start_timeout");
        }
        if (pst != null) {
            b.primaryStartTimeout(pst);
        }
        if (d.has("synchronous_mode")) {
            String v = d.string("synchronous_mode", "off").toLowerCase(java.util.Locale.ROOT);
            switch (v) {
                case "true", "on" -> b.synchronousMode(SynchronousMode.ON);
                case "false", "off" -> b.synchronousMode(SynchronousMode.OFF);
                default -> throw new IllegalArgumentException(d.key("synchronous_mode") + ": expected on or off, got '"
                        + v + "'" + (v.equals("quorum") ? " (quorum commit is not supported yet)" : ""));
            }
        }
        b.synchronousModeStrict(d.bool("synchronous_mode_strict", false));
        if (d.has("synchronous_node_count")) {
            b.synchronousNodeCount((int) d.integer("synchronous_node_count", 1));
        }
        b.failsafeMode(d.bool("failsafe_mode", false));
        b.checkTimeline(d.bool("check_timeline", false));
        b.startPaused(d.bool("pause", false));
        ConfigSection pg = d.section("postgresql");
        b.usePgRewind(pg.bool("use_pg_rewind", true));
        b.useSlots(pg.bool("use_slots", true));
        Object memberSlotsTtl = d.raw("member_slots_ttl");
        if (memberSlotsTtl != null) {
            // Patroni's forms (seconds, or "30min", "1h", ...), read as the config key reads them.
            try {
                b.memberSlotsTtl(io.pgha.core.cluster.GlobalConfig.of(Map.of("member_slots_ttl", memberSlotsTtl))
                        .memberSlotsTtl().orElseThrow());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(d.key("member_slots_ttl") + ": " + e.getMessage()
                        .replaceFirst("^member_slots_ttl: ", ""), e);
            }
        }
        // Taken from the config key the first member writes (bootstrap.dcs is copied into it whole).
        pg.ignore("recovery_conf", "pg_hba", "pg_ident", "parameters");
        // slots and ignore_slots reach the config key with the rest of bootstrap.dcs; the leader reads them there.
        d.ignore("maximum_lag_on_syncnode", "max_timelines_history", "primary_stop_timeout", "slots",
                "ignore_slots", "standby_cluster", "primary_race_backoff");
    }

    private static void applyPostgres(io.pgha.core.config.PostgresSettings.Builder p, ConfigSection pg) {
        HostPort listen = pg.hostPort("listen");
        if (listen == null) {
            throw new IllegalArgumentException("postgresql.listen is required (host:port), e.g. 0.0.0.0:5432");
        }
        p.listen(listen.host(), listen.port());
        HostPort connect = pg.hostPort("connect_address");
        if (connect != null) {
            p.connectAddress(connect.host(), connect.port());
        }
        Path dataDir = Path.of(pg.requiredString("data_dir"));
        p.dataDir(dataDir);
        p.nodeDir(Path.of(pg.string("node_dir", dataDir.toString() + "-node")));
        String bin = pg.string("bin_dir", null);
        if (bin != null) {
            p.binDir(Path.of(bin));
        }
        String socket = pg.string("socket_dir", null);
        if (socket != null) {
            p.socketDir(Path.of(socket));
        }
        ConfigSection auth = pg.section("authentication");
        ConfigSection su = auth.section("superuser");
        p.superuser(su.string("username", "postgres"), su.requiredString("password"));
        ConfigSection repl = auth.section("replication");
        p.replication(repl.string("username", "replicator"), repl.requiredString("password"));
        ConfigSection rewind = auth.section("rewind");
        if (rewind.has("username")) {
            p.rewind(rewind.requiredString("username"), rewind.requiredString("password"));
        }
        // Only this member's own: bootstrap.dcs.postgresql.parameters are cluster-wide, from the config key.
        p.parameters(pg.stringMap("parameters"));
        List<String> hba = pg.strings("pg_hba");
        if (!hba.isEmpty()) {
            p.pgHba(hba);
        }
        List<String> ident = pg.strings("pg_ident");
        if (!ident.isEmpty()) {
            p.pgIdent(ident);
        }
        String runAs = pg.string("run_as_user", null);
        if (runAs != null) {
            p.runAsUser(runAs);
        }
        Duration timeout = pg.seconds("pg_ctl_timeout");
        if (timeout != null) {
            p.startTimeout(timeout).stopTimeout(timeout);
        }
        pg.ignore("config_dir", "pgpass", "use_unix_socket", "custom_conf", "create_replica_methods",
                "basebackup", "use_pg_rewind", "remove_data_directory_on_rewind_failure",
                "remove_data_directory_on_diverged_timelines", "pre_promote", "before_stop", "proxy_address",
                "bin_name", "recovery_conf");
    }

    /**
     * Patroni's {@code postgresql.callbacks}: {@code on_start}, {@code on_stop}, {@code on_role_change},
     * {@code on_restart} and {@code on_reload}, each a command line (split on spaces; Patroni appends action, role
     * and scope). Read at the start and again by every reload.
     */
    static Map<CallbackScripts.Event, List<String>> callbackCommands(ConfigSection c) {
        Map<CallbackScripts.Event, List<String>> commands = new java.util.EnumMap<>(CallbackScripts.Event.class);
        for (CallbackScripts.Event e : CallbackScripts.Event.values()) {
            String line = c.string(e.key, null);
            if (line != null) {
                List<String> argv = java.util.Arrays.stream(line.trim().split("\\s+")).filter(a -> !a.isEmpty())
                        .toList();
                if (argv.isEmpty()) {
                    throw new IllegalArgumentException(c.key(e.key) + ": expected a command, got an empty string");
                }
                commands.put(e, argv);
            }
        }
        return commands;
    }

    /**
     * Patroni's {@code watchdog} section: {@code mode} (off, automatic, required; Patroni's spellings accepted) and
     * {@code device}. No section means off (Patroni's default is automatic). Returns warnings for keys pgha cannot
     * honour.
     */
    private static List<String> watchdog(HaClusterBuilder b, ConfigSection w) {
        String mode = w.string("mode", null);
        if (mode != null) {
            b.watchdog(switch (mode.trim().toLowerCase(java.util.Locale.ROOT)) {
                case "off", "false", "disable", "disabled" -> WatchdogMode.OFF;
                case "automatic", "auto" -> WatchdogMode.AUTOMATIC;
                case "required", "require" -> WatchdogMode.REQUIRED;
                default -> throw new IllegalArgumentException(w.key("mode") + ": expected off, automatic or required,"
                        + " got '" + mode + "'");
            });
        }
        String device = w.string("device", null);
        if (device != null) {
            b.watchdogDevice(Path.of(device));
        }
        List<String> notes = new ArrayList<>();
        if (w.has("safety_margin")) {
            // Patroni sets the device's timeout to ttl - safety_margin by ioctl; pgha reads it (decision 0010).
            notes.add(w.key("safety_margin") + " is ignored: pgha uses the timeout the device already has (set it"
                    + " where the driver is loaded, e.g. `modprobe softdog soft_margin=25`)");
        }
        w.ignore("safety_margin", "driver");
        return notes;
    }

    private static Tags tags(ConfigSection t) {
        Tags tags = Tags.DEFAULT
                .withNofailover(t.bool("nofailover", false))
                .withFailoverPriority((int) t.integer("failover_priority", 1))
                .withNosync(t.bool("nosync", false))
                .withNoloadbalance(t.bool("noloadbalance", false))
                .withClonefrom(t.bool("clonefrom", false));
        for (String k : t.unusedKeys()) {
            String name = k.substring("tags.".length());
            tags = tags.withCustom(name, t.string(name, ""));
        }
        return tags;
    }

    /** The member, validated and built, not started yet. */
    public HaCluster cluster() {
        return cluster;
    }

    /** Settings the file has that pgha does not know (each names its key). */
    public List<String> warnings() {
        return List.copyOf(warnings);
    }

    /** The store section the file configures. */
    public String store() {
        return store;
    }
}
