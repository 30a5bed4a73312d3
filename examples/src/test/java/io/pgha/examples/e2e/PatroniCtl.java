package io.pgha.examples.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Patroni's own command line tool, {@code patronictl} from Debian's {@code patroni} package, pointed at a pgha
 * cluster: it reads the store with Patroni's Python clients and talks to the members' REST APIs, so what it can do
 * is what an operator's existing Patroni tooling can do against pgha.
 */
final class PatroniCtl {

    static final Path BINARY = Path.of("/usr/bin/patronictl");
    private static final Duration TIMEOUT = Duration.ofSeconds(90);

    private final Path config;

    /** The outcome of one run. */
    record Run(List<String> command, int exitStatus, String output) {
        Run ok() {
            if (exitStatus != 0) {
                throw new AssertionError(String.join(" ", command) + " exited " + exitStatus + ":\n" + output);
            }
            return this;
        }

        JsonNode json() {
            try {
                return AgentProcess.JSON.readTree(output);
            } catch (IOException e) {
                throw new AssertionError("not JSON from " + String.join(" ", command) + ":\n" + output, e);
            }
        }
    }

    /** Writes patronictl's configuration for {@code cluster}: the store straight (no proxy) and the REST credentials. */
    PatroniCtl(E2eCluster cluster) throws IOException {
        this(writeConfig(cluster));
    }

    /** On an existing configuration: a Patroni member's own YAML serves patronictl as well. */
    PatroniCtl(Path config) {
        if (!Files.isExecutable(BINARY)) {
            throw new IllegalStateException(BINARY + " is missing: apt-get install patroni python3-kazoo python3-etcd"
                    + " python3-consul (.ci/run does)");
        }
        this.config = config;
    }

    /** patronictl's settings for {@code cluster}: the store straight (no proxy) and the REST credentials. */
    static Map<String, Object> settings(E2eCluster cluster) {
        Map<String, Object> y = new LinkedHashMap<>();
        y.put("scope", cluster.scope);
        y.put("namespace", "/service/");
        y.put(cluster.store.section(), cluster.store.memberSection(cluster.store.host() + ":" + cluster.store.port()));
        y.put("restapi", Map.of("authentication", Map.of("username", E2eCluster.REST_USER,
                "password", cluster.restPassword)));
        return y;
    }

    private static Path writeConfig(E2eCluster cluster) throws IOException {
        Map<String, Object> y = settings(cluster);
        Path config = cluster.base.resolve("patronictl.yaml");
        AgentProcess.YAML.writeValue(config.toFile(), y);
        return config;
    }

    /** Runs {@code patronictl -c <config> args...}, bounded in time, its output (stdout and stderr) captured. */
    Run run(String... args) throws IOException, InterruptedException {
        return run(Map.of(), args);
    }

    /**
     * As {@link #run(String...)} with extra environment variables: {@code patronictl query} connects with libpq, which
     * takes the password from {@code PGPASSWORD} (its {@code --password} only prompts, and there is no terminal).
     */
    Run run(Map<String, String> env, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(BINARY.toString(), "-c", config.toString()));
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile(config.getParent(), "patronictl-", ".out");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
        pb.environment().putAll(env);
        Process p = pb.start();
        try {
            if (!p.waitFor(TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                throw new AssertionError(String.join(" ", cmd) + " still runs after " + TIMEOUT + ":\n"
                        + Files.readString(out, StandardCharsets.UTF_8));
            }
            return new Run(cmd, p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
        } finally {
            p.destroyForcibly();
            Files.deleteIfExists(out);
        }
    }
}
