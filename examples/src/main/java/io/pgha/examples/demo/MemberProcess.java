package io.pgha.examples.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One member: the standalone agent ({@code io.pgha.examples.agent.AgentMain}) in its own JVM, configured by a
 * Patroni-layout YAML file the demo writes, running its own PostgreSQL. Being a separate OS process is what makes
 * "kill the leader" real: a kill -9 takes the agent and its PostgreSQL down together, with no shutdown hook, no
 * lock release and no goodbye to the DCS (docs/decisions/0601).
 */
final class MemberProcess {

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    final String name;
    final Path dir;
    final Path dataDir;
    final Path nodeDir;
    final Path config;
    final Path log;
    final int pgPort;
    final int restPort;
    private volatile Process agent;

    MemberProcess(String name, Path workDir, int pgPort, int restPort) throws IOException {
        this.name = name;
        this.dir = WorkDir.subdir(workDir, name);
        this.dataDir = dir.resolve("data");
        this.nodeDir = dir.resolve("node");
        this.config = dir.resolve("member.yaml");
        this.log = dir.resolve("agent.log");
        this.pgPort = pgPort;
        this.restPort = restPort;
    }

    /** Writes {@code member.yaml}, mode 0600 before any secret is in it. */
    void writeConfig(String scope, DemoStore store, DemoOptions o, Prerequisites.Postgres pg, Secrets secrets)
            throws IOException {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("scope", scope);
        doc.put("name", name);
        // The members send each other these credentials too (failsafe pings), so all share them.
        doc.put("restapi", Map.of("listen", "127.0.0.1:" + restPort, "connect_address", "127.0.0.1:" + restPort,
                "authentication", Map.of("username", "demo", "password", secrets.rest())));
        doc.put(store.section(), store.settings());
        Map<String, Object> dcs = new LinkedHashMap<>();
        dcs.put("ttl", o.ttl().toSeconds());
        dcs.put("loop_wait", o.loopWait().toSeconds());
        dcs.put("retry_timeout", o.retryTimeout().toSeconds());
        dcs.put("maximum_lag_on_failover", 1048576);
        // Commits wait for one synchronous standby, and only that standby may be promoted: an acknowledged row
        // cannot be lost in the failover (docs/decisions/0603).
        dcs.put("synchronous_mode", true);
        dcs.put("postgresql", Map.of("use_pg_rewind", true));
        doc.put("bootstrap", Map.of("dcs", dcs));
        Map<String, Object> postgres = new LinkedHashMap<>();
        postgres.put("listen", "127.0.0.1:" + pgPort);
        postgres.put("connect_address", "127.0.0.1:" + pgPort);
        postgres.put("data_dir", dataDir.toString());
        postgres.put("node_dir", nodeDir.toString());
        postgres.put("bin_dir", pg.binDir().toString());
        postgres.put("run_as_user", pg.osUser());
        postgres.put("authentication", Map.of(
                "superuser", Map.of("username", "postgres", "password", secrets.superuser()),
                "replication", Map.of("username", "replicator", "password", secrets.replication())));
        // Small: three servers share a laptop (or a 2-core CI machine).
        postgres.put("parameters", Map.of("shared_buffers", "16MB", "max_connections", "30",
                "wal_keep_size", "64MB"));
        doc.put("postgresql", postgres);
        Files.deleteIfExists(config);
        Files.createFile(config, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(config, "# written by the pgha demo\n" + YAML.writeValueAsString(doc),
                StandardCharsets.UTF_8);
    }

    /**
     * Starts the agent JVM (same java as the demo; the class path goes in {@code CLASSPATH} so that {@code ps} shows
     * a readable command). Its working directory is its member directory, which PostgreSQL's user can reach even
     * when the demo was started from a directory it cannot.
     */
    void start(ChildProcesses children, String javaHome, String classPath) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(javaHome, "bin", "java").toString(),
                "-Xms32m", "-Xmx160m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Dorg.slf4j.simpleLogger.showDateTime=true",
                "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
                "-Dorg.slf4j.simpleLogger.log.org.apache.zookeeper=warn",
                "-Dorg.slf4j.simpleLogger.log.org.apache.curator=warn",
                "-Dorg.slf4j.simpleLogger.log.org.postgresql=warn",
                "io.pgha.examples.agent.AgentMain", config.toString()));
        agent = children.start(cmd, log, dir, Map.of("CLASSPATH", classPath));
    }

    Optional<Process> agent() {
        return Optional.ofNullable(agent);
    }

    boolean agentAlive() {
        Process p = agent;
        return p != null && p.isAlive();
    }

    /** The running postmaster's PID, from {@code postmaster.pid}, if that process is alive. */
    Optional<Long> postmasterPid() {
        return ChildProcesses.postmasterPid(dataDir).filter(pid -> ProcessHandle.of(pid)
                .map(ProcessHandle::isAlive).orElse(false));
    }

    /** The last non-blank line of the agent's log, for error messages. */
    String lastLogLine() {
        return DemoStore.lastLine(log);
    }

    @Override
    public String toString() {
        return name;
    }

    /** Per-run random passwords: the servers listen on loopback only, but nothing fixed should ever log in. */
    record Secrets(String superuser, String replication, String rest) {
        static Secrets random() {
            java.security.SecureRandom r = new java.security.SecureRandom();
            return new Secrets(hex(r), hex(r), hex(r));
        }

        private static String hex(java.security.SecureRandom r) {
            byte[] b = new byte[12];
            r.nextBytes(b);
            return java.util.HexFormat.of().formatHex(b);
        }
    }
}
