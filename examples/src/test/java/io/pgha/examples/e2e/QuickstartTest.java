package io.pgha.examples.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgha.core.testkit.TestFiles;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The README's quickstart, run as written: the files of {@code examples/quickstart/} copied unchanged into a fresh
 * working directory, Debian's etcd on its default ports, three agents from the build's {@code pgha-agent.jar}
 * ({@code java -jar pgha-agent.jar postgresN.yml}, as the {@code postgres} OS user when the test runs as root) and
 * Debian's HAProxy on the quickstart's {@code haproxy.cfg}. Checked: one leader and two streaming replicas, a write
 * through port 5000 lands on the leader, port 5001 reaches a replica, and after a switchover port 5000 reaches the new
 * leader.
 *
 * <p>The files fix their ports (as Patroni's quickstart does): if one is taken on this machine the test fails and
 * names it, rather than rewriting the files. It needs the packaged jar, so it runs in the surefire execution
 * {@code quickstart} after {@code package} ({@code mvn verify}; {@code -Dpgha.skipQuickstart=true} skips it); in the
 * ordinary test run it is skipped.
 */
@Timeout(value = 6, unit = TimeUnit.MINUTES)
class QuickstartTest {

    private static final Path QUICKSTART = Path.of(System.getProperty("basedir", "."), "quickstart");
    private static final Path LAUNCHER = Path.of(System.getProperty("basedir", "."), "pgha-agent");
    private static final Path SETPRIV = Path.of("/usr/bin/setpriv");
    private static final Path HAPROXY = Path.of("/usr/sbin/haproxy");
    private static final Path ETCD = Path.of("/usr/bin/etcd");
    private static final List<String> MEMBER_FILES = List.of("postgres0.yml", "postgres1.yml", "postgres2.yml");
    /** etcd's defaults (client, peer), which the README's etcd line keeps. */
    private static final List<Integer> ETCD_PORTS = List.of(2379, 2380);

    @Test
    void theAgentJarAnswersHelpAndNamesAnUnreadableFile() throws Exception {
        Path jar = agentJar();
        Run help = run(List.of(java(), "-jar", jar.toString(), "--help"));
        assertThat(help.exit).as("exit status of --help: " + help.output).isZero();
        assertThat(help.output).contains("usage: java -jar pgha-agent.jar <member.yaml>");

        Run missing = run(List.of(java(), "-jar", jar.toString(), "/nonexistent/member.yaml"));
        assertThat(missing.exit).as("exit status for a file that is not there: " + missing.output).isEqualTo(2);
        assertThat(missing.output).contains("cannot read the configuration file /nonexistent/member.yaml");
    }

    /**
     * Each store's module is in the jar and found through its merged {@code ServiceLoader} file: a store section
     * without its hosts reaches that store's own check (a missing module would answer "no DCS module for ...").
     */
    @Test
    void everyStoreModuleIsFoundInTheJar() throws Exception {
        Path jar = agentJar();
        Path dir = TestFiles.shortTempDir("qs-stores");
        try {
            for (String store : List.of("zookeeper", "etcd3", "consul")) {
                Path yaml = dir.resolve(store + ".yml");
                Files.writeString(yaml, "scope: s\nname: n\n" + store + ": {}\n");
                Run r = run(List.of(java(), "-jar", jar.toString(), yaml.toString()));
                assertThat(r.exit).as("exit status: " + r.output).isEqualTo(2);
                assertThat(r.output).as("the " + store + " module's own check").contains(store + ".")
                        .contains("is required").doesNotContain("no DCS module");
            }
        } finally {
            TestFiles.deleteTree(dir);
        }
    }

    @Test
    void theQuickstartFilesMakeAClusterBehindHaproxyThatFollowsASwitchover() throws Exception {
        Path jar = agentJar();
        List<Member> members = new ArrayList<>();
        for (String file : MEMBER_FILES) {
            members.add(Member.of(file, AgentProcess.YAML.readTree(QUICKSTART.resolve(file).toFile())));
        }
        Listeners haproxyPorts = Listeners.of(QuickstartHaproxy.read());
        List<Integer> fixed = new ArrayList<>(ETCD_PORTS);
        members.forEach(m -> fixed.addAll(List.of(m.pgPort, m.restPort)));
        fixed.addAll(List.of(haproxyPorts.primary, haproxyPorts.replicas, haproxyPorts.stats));
        List<Integer> taken = fixed.stream().filter(p -> !bindable(p)).toList();
        assertThat(taken).as("the quickstart's fixed ports (etcd's defaults, postgres0..2.yml, haproxy.cfg) must be"
                + " free on this machine; something listens on these already (`ss -ltnp`): stop it, or skip this"
                + " test with -Dpgha.skipQuickstart=true").isEmpty();

        Path dir = TestFiles.shortTempDir("qs");
        try (Stream<Path> files = Files.list(QUICKSTART)) {
            for (Path f : files.toList()) {
                Files.copy(f, dir.resolve(f.getFileName()));
            }
        }
        Files.copy(jar, dir.resolve("pgha-agent.jar"));
        // The README copies the launcher beside the jar; copy() keeps its executable bit.
        Files.copy(LAUNCHER, dir.resolve("pgha-agent"), StandardCopyOption.COPY_ATTRIBUTES);
        // ...and its class list, from which the first start makes the class data sharing archive (decision 0708).
        Files.copy(LAUNCHER.resolveSibling("pgha-agent.classlist"), dir.resolve("pgha-agent.classlist"));
        chownToPostgres(dir);
        Processes procs = new Processes(dir);
        try {
            procs.start("etcd", List.of(ETCD.toString(), "--data-dir", "data/etcd"));
            for (Member m : members) {
                // The README's line: the launcher with its JVM options (PGHA_JAVA: this JDK, not whatever java is on
                // the postgres user's PATH).
                procs.start(m.name, List.of("./pgha-agent", m.file));
            }
            procs.start("haproxy", List.of(HAPROXY.toString(), "-f", "haproxy.cfg"));

            Member leader = awaitLeaderAndTwoStreamingReplicas(members, procs);
            String password = members.get(0).superuserPassword;

            // A write through the primary port lands on the leader.
            String first = UUID.randomUUID().toString();
            Route wrote = await("port " + haproxyPorts.primary + " takes a write on the leader " + leader.name)
                    .atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500))
                    .until(() -> write(haproxyPorts.primary, password, first), r -> r.port == leader.pgPort);
            assertThat(wrote.inRecovery).as("the server behind port " + haproxyPorts.primary).isFalse();
            assertThat(rowsOn(leader.pgPort, password)).as("rows on " + leader.name + " itself").contains(first);

            // The replica port reaches a replica.
            Route replica = await("port " + haproxyPorts.replicas + " reaches a replica")
                    .atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500))
                    .until(() -> route(haproxyPorts.replicas, password), r -> r.inRecovery);
            assertThat(replica.port).as("the server behind port " + haproxyPorts.replicas).isNotEqualTo(leader.pgPort)
                    .isIn(members.stream().map(m -> m.pgPort).toList());

            // A switchover, as an operator asks for it: port 5000 then follows the new leader.
            Member candidate = members.stream().filter(m -> m != leader).findFirst().orElseThrow();
            HttpResponse<String> r = E2eKit.HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                    + leader.restPort + "/switchover")).timeout(Duration.ofSeconds(90))
                    .header("Authorization", leader.basicAuth()).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"leader\": \"" + leader.name
                            + "\", \"candidate\": \"" + candidate.name + "\"}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as("POST /switchover answered " + r.body()).isEqualTo(200);
            String second = UUID.randomUUID().toString();
            await("port " + haproxyPorts.primary + " takes a write on the new leader " + candidate.name)
                    .atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500))
                    .until(() -> write(haproxyPorts.primary, password, second),
                            w -> w.port == candidate.pgPort && !w.inRecovery);
            assertThat(rowsOn(candidate.pgPort, password)).as("rows on " + candidate.name).contains(first, second);
            assertThat(clusterLeader(candidate)).as("the leader after the switchover").isEqualTo(candidate.name);
        } finally {
            procs.stopAll(members.stream().map(m -> dir.resolve(m.dataDir)).toList());
            Map<String, Path> logs = new LinkedHashMap<>(procs.logs);
            members.forEach(m -> logs.put(m.name + "-postgresql.log", dir.resolve(m.dataDir + "-node")
                    .resolve("postgresql.log")));
            E2eKit.keepLogs("quickstart", logs);
            TestFiles.deleteTree(dir);
        }
    }

    // ------------------------------------------------------------------------------------------------ the files

    /** What the test needs of one {@code postgresN.yml}. */
    private record Member(String file, String name, int pgPort, int restPort, String dataDir, String superuserPassword,
            String restUser, String restPassword) {
        static Member of(String file, JsonNode y) {
            return new Member(file, y.path("name").asText(), port(y.path("postgresql").path("listen").asText()),
                    port(y.path("restapi").path("listen").asText()), y.path("postgresql").path("data_dir").asText(),
                    y.path("postgresql").path("authentication").path("superuser").path("password").asText(),
                    y.path("restapi").path("authentication").path("username").asText(),
                    y.path("restapi").path("authentication").path("password").asText());
        }

        String basicAuth() {
            return "Basic " + Base64.getEncoder().encodeToString((restUser + ":" + restPassword)
                    .getBytes(StandardCharsets.UTF_8));
        }
    }

    private static int port(String hostPort) {
        return Integer.parseInt(hostPort.substring(hostPort.lastIndexOf(':') + 1));
    }

    /** The ports of haproxy.cfg's three listeners. */
    private record Listeners(int primary, int replicas, int stats) {
        static Listeners of(String cfg) {
            Map<String, Integer> bind = QuickstartHaproxy.binds(cfg);
            assertThat(bind).as("haproxy.cfg's listeners").containsKeys("primary", "replicas", "stats");
            return new Listeners(bind.get("primary"), bind.get("replicas"), bind.get("stats"));
        }
    }

    // ------------------------------------------------------------------------------------------------ checks

    private static Member awaitLeaderAndTwoStreamingReplicas(List<Member> members, Processes procs) {
        String leader = await("one leader and two streaming replicas in GET /cluster")
                .atMost(Duration.ofSeconds(150)).pollInterval(Duration.ofMillis(500)).ignoreExceptions()
                .failFast("a quickstart process exited (its log: target/e2e-logs/quickstart/)",
                        () -> procs.deadOne() != null)
                .until(() -> healthyLeader(members.get(0), members.size()), l -> l != null);
        return members.stream().filter(m -> m.name.equals(leader)).findFirst().orElseThrow();
    }

    /** The leader's name if {@code GET /cluster} shows one leader and every other member streaming, else null. */
    private static String healthyLeader(Member asked, int size) throws IOException, InterruptedException {
        JsonNode cluster = cluster(asked);
        List<String> leaders = new ArrayList<>();
        int streaming = 0;
        for (JsonNode m : cluster.path("members")) {
            if (m.path("role").asText().equals("leader") && m.path("state").asText().equals("running")) {
                leaders.add(m.path("name").asText());
            } else if (m.path("role").asText().equals("replica") && m.path("state").asText().equals("streaming")) {
                streaming++;
            }
        }
        return leaders.size() == 1 && streaming == size - 1 ? leaders.get(0) : null;
    }

    private static String clusterLeader(Member asked) throws IOException, InterruptedException {
        for (JsonNode m : cluster(asked).path("members")) {
            if (m.path("role").asText().equals("leader")) {
                return m.path("name").asText();
            }
        }
        return null;
    }

    private static JsonNode cluster(Member asked) throws IOException, InterruptedException {
        HttpResponse<String> r = E2eKit.HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + asked.restPort + "/cluster")).timeout(Duration.ofSeconds(5)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        return AgentProcess.JSON.readTree(r.body());
    }

    /**
     * The server a new connection through a port reached ({@code port} -1 and the error when it failed: a wait that
     * times out then shows what the last attempt got).
     */
    private record Route(int port, boolean inRecovery, String error) {}

    private static Route route(int port, String password) {
        try (Connection c = connect(port, password); ResultSet rs = c.createStatement()
                .executeQuery("SELECT inet_server_port(), pg_is_in_recovery()")) {
            rs.next();
            return new Route(rs.getInt(1), rs.getBoolean(2), null);
        } catch (SQLException e) {
            return new Route(-1, false, e.getMessage());
        }
    }

    /** Inserts {@code id} through {@code port}; returns the server that committed it. */
    private static Route write(int port, String password, String id) {
        try (Connection c = connect(port, password)) {
            c.createStatement().execute("CREATE TABLE IF NOT EXISTS quickstart (id text PRIMARY KEY, port int)");
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO quickstart VALUES (?, inet_server_port())"
                    + " RETURNING port, pg_is_in_recovery()")) {
                ps.setString(1, id);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return new Route(rs.getInt(1), rs.getBoolean(2), null);
                }
            }
        } catch (SQLException e) {
            return new Route(-1, false, e.getMessage());
        }
    }

    private static List<String> rowsOn(int port, String password) throws SQLException {
        List<String> ids = new ArrayList<>();
        try (Connection c = connect(port, password);
                ResultSet rs = c.createStatement().executeQuery("SELECT id FROM quickstart")) {
            while (rs.next()) {
                ids.add(rs.getString(1));
            }
        }
        return ids;
    }

    private static Connection connect(int port, String password) throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port
                + "/postgres?connectTimeout=3&socketTimeout=10", "postgres", password);
    }

    // ------------------------------------------------------------------------------------------------ processes

    /** The quickstart's processes, each started in the working directory and stopped by its PID. */
    private static final class Processes {
        final Path dir;
        final Map<String, Process> started = new LinkedHashMap<>();
        final Map<String, Path> logs = new LinkedHashMap<>();

        Processes(Path dir) {
            this.dir = dir;
        }

        void start(String name, List<String> command) throws IOException {
            Path log = dir.resolve(name + ".log");
            logs.put(name + ".log", log);
            ProcessBuilder pb = new ProcessBuilder(asQuickstartUser(command)).directory(dir.toFile())
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
            // A fresh shell's environment: none of this JVM's PATRONI_* settings reach the agents.
            pb.environment().keySet().removeIf(k -> k.startsWith("PATRONI_"));
            pb.environment().put("HOME", dir.toString());
            pb.environment().put("PGHA_JAVA", java());
            started.put(name, E2eKit.launch(pb, name));
        }

        /** The name of a process that has exited, or null. */
        String deadOne() {
            return started.entrySet().stream().filter(e -> !e.getValue().isAlive()).map(Map.Entry::getKey)
                    .findFirst().orElse(null);
        }

        /**
         * HAProxy and the agents by SIGTERM (SIGKILL after 30 s), then a postmaster an agent left behind, then etcd
         * last so that the agents can give up their keys. Never throws.
         */
        void stopAll(List<Path> dataDirs) {
            List<String> order = new ArrayList<>(started.keySet());
            java.util.Collections.reverse(order);
            order.remove("etcd");
            order.add("etcd");
            for (String name : order) {
                if (!started.containsKey(name)) {
                    continue;
                }
                if (name.equals("etcd")) {
                    dataDirs.forEach(AgentProcess::killPostmaster);
                }
                Process p = started.get(name);
                p.destroy();
                try {
                    if (!p.waitFor(30, TimeUnit.SECONDS)) {
                        System.err.println("quickstart: " + name + " (pid " + p.pid() + ") ignored SIGTERM for 30 s");
                        p.destroyForcibly().waitFor(20, TimeUnit.SECONDS);
                    }
                } catch (InterruptedException e) {
                    p.destroyForcibly();
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /**
     * As the README says: the postgres OS user runs the quickstart, since PostgreSQL refuses root. Every process gets
     * {@code --pdeathsig KILL}, so it dies with the test JVM even if the JVM is killed.
     */
    private static List<String> asQuickstartUser(List<String> command) {
        List<String> cmd = new ArrayList<>();
        if (Files.isExecutable(SETPRIV)) {
            cmd.addAll(List.of(SETPRIV.toString(), "--pdeathsig", "KILL"));
            if (isRoot()) {
                cmd.addAll(List.of("--reuid=postgres", "--regid=postgres", "--init-groups"));
            }
            cmd.add("--");
        }
        cmd.addAll(command);
        return cmd;
    }

    private static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    private static void chownToPostgres(Path dir) throws IOException, InterruptedException {
        if (isRoot()) {
            Run chown = run(List.of("chown", "-R", "postgres:postgres", dir.toString()));
            assertThat(chown.exit).as("chown of the working directory: " + chown.output).isZero();
        }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private static Path agentJar() {
        String prop = System.getProperty("pgha.agentJar");
        assumeTrue(prop != null, "runs on the packaged jar, in the surefire execution 'quickstart' of mvn verify");
        Path jar = Path.of(prop);
        assertThat(jar).as("the runnable agent jar the build makes (examples/pom.xml, maven-shade-plugin)")
                .isRegularFile();
        return jar;
    }

    private static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    private static boolean bindable(int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private record Run(int exit, String output) {}

    /** A short command, its output; bounded to 60 s. */
    private static Run run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException(command + " did not finish in 60 s");
        }
        return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }
}
