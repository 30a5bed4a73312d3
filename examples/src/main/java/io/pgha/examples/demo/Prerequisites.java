package io.pgha.examples.demo;

import io.pgha.core.config.PostgresSettings;
import io.pgha.core.postgres.LocalPostgres;
import io.pgha.core.spi.PostgresException;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Checks what the demo needs before it starts anything, so that a missing piece is one line saying what to install
 * or pass, never a stack trace from deep inside a member.
 */
final class Prerequisites {

    private static final Path DEBIAN_PG = Path.of("/usr/lib/postgresql");

    /** PostgreSQL as the demo will run it. */
    record Postgres(Path binDir, String version, boolean root, String osUser) {}

    private Prerequisites() {}

    /**
     * Finds PostgreSQL's binaries and proves they can run as the user the members will use: {@link LocalPostgres}'s
     * own checks (user, binaries, version 13-17) run here, with their messages.
     */
    static Postgres postgres(DemoOptions o) {
        Path bin = o.pgBin() != null ? o.pgBin() : findBinDir().orElseThrow(() -> DemoException.missing(
                "PostgreSQL binaries not found in " + DEBIAN_PG + "/*/bin or on PATH (apt-get install postgresql-15,"
                        + " or pass --pg-bin DIR)"));
        if (o.pgBin() != null && !Files.isExecutable(bin.resolve("initdb"))) {
            throw DemoException.missing("--pg-bin " + bin + " has no PostgreSQL binaries (no executable initdb"
                    + " there); name the directory holding initdb and postgres, e.g. /usr/lib/postgresql/15/bin");
        }
        boolean root = isRoot();
        if (root) {
            if (ChildProcesses.findOnPath("setpriv").isEmpty()) {
                throw DemoException.missing("running as root, the demo starts PostgreSQL as user '" + o.pgUser()
                        + "' with setpriv, which is missing (apt-get install util-linux), or run the demo as a"
                        + " normal user");
            }
            if (!userExists(o.pgUser())) {
                throw DemoException.missing("running as root, PostgreSQL must run as an unprivileged OS user, and '"
                        + o.pgUser() + "' does not exist (apt-get install postgresql-common creates 'postgres'; or"
                        + " pass --pg-user NAME, or run the demo as a normal user)");
            }
        }
        Path probe = WorkDir.PARENT.resolve(WorkDir.PREFIX + "preflight");
        PostgresSettings s;
        try {
            s = PostgresSettings.builder().memberName("preflight").binDir(bin).dataDir(probe.resolve("data"))
                    .nodeDir(probe.resolve("node")).superuser("postgres", "unused").replication("replicator", "unused")
                    .runAsUser(o.pgUser()).stopWhenJvmDies(false).build();
        } catch (IllegalArgumentException e) {
            throw DemoException.missing(e.getMessage());
        }
        // Construction checks the user, the binaries and `postgres --version` run as that user; it touches no
        // directory and starts no thread (stopWhenJvmDies off), so there is nothing to close.
        LocalPostgres pg;
        try {
            pg = new LocalPostgres(s);
        } catch (PostgresException e) {
            throw DemoException.missing("PostgreSQL cannot run" + (root ? " as user '" + o.pgUser() + "'" : "") + ": "
                    + e.getMessage().lines().findFirst().orElse(""));
        }
        return new Postgres(bin, pg.version(), root, root ? o.pgUser() : System.getProperty("user.name"));
    }

    /**
     * The newest supported /usr/lib/postgresql/N/bin (Debian, Ubuntu), else the directory of {@code initdb} on
     * PATH (most other packagings).
     */
    static Optional<Path> findBinDir() {
        List<Path> candidates = new ArrayList<>();
        if (Files.isDirectory(DEBIAN_PG)) {
            try (DirectoryStream<Path> versions = Files.newDirectoryStream(DEBIAN_PG)) {
                for (Path v : versions) {
                    Path bin = v.resolve("bin");
                    if (Files.isExecutable(bin.resolve("initdb")) && major(v).isPresent()) {
                        candidates.add(bin);
                    }
                }
            } catch (IOException e) {
                // unreadable: fall through to PATH
            }
        }
        Optional<Path> supported = candidates.stream()
                .filter(b -> {
                    int m = major(b.getParent()).orElse(0);
                    return m >= LocalPostgres.MIN_VERSION && m <= LocalPostgres.MAX_VERSION;
                })
                .max(Comparator.comparing(b -> major(b.getParent()).orElse(0)));
        if (supported.isPresent()) {
            return supported;
        }
        Optional<Path> onPath = ChildProcesses.findOnPath("initdb").map(p -> {
            try {
                return p.toRealPath().getParent();
            } catch (IOException e) {
                return p.getParent();
            }
        });
        if (onPath.isPresent()) {
            return onPath;
        }
        // An unsupported version only: let LocalPostgres say which one it is and what is supported.
        return candidates.stream().max(Comparator.comparing(b -> major(b.getParent()).orElse(0)));
    }

    private static Optional<Integer> major(Path versionDir) {
        try {
            return Optional.of(Integer.parseInt(versionDir.getFileName().toString()));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** Debian's etcd (package etcd-server), or any etcd on PATH. */
    static Path etcd() {
        return ChildProcesses.findOnPath("etcd").orElseThrow(() -> DemoException.missing(
                "--store etcd needs the etcd server, which is not installed (apt-get install etcd-server)"));
    }

    /** A Consul agent that answers at the given URL; the demo cannot start one (see docs/decisions/0602). */
    static URI consul(DemoOptions o) {
        if (o.consulUrl() == null) {
            throw DemoException.missing("--store consul needs a running Consul agent: start one (Consul is not"
                    + " packaged for Debian, so the demo cannot) and pass --consul-url http://127.0.0.1:8500");
        }
        URI leader = o.consulUrl().resolve("/v1/status/leader");
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(leader).timeout(Duration.ofSeconds(3)).GET()
                    .build(), HttpResponse.BodyHandlers.ofString());
            String body = r.body().trim();
            if (r.statusCode() != 200 || body.equals("\"\"")) {
                throw DemoException.missing("the Consul agent at " + o.consulUrl() + " has no leader (GET "
                        + leader.getPath() + " answered " + r.statusCode() + " " + body + ")");
            }
        } catch (IOException e) {
            throw DemoException.missing("no Consul agent answers at " + o.consulUrl() + " (" + e.getClass()
                    .getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()) + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw DemoException.failed("interrupted");
        }
        return o.consulUrl();
    }

    /** The JVM's effective uid is 0 (/proc/self belongs to it). */
    static boolean isRoot() {
        try {
            return Integer.valueOf(0).equals(Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return "root".equals(System.getProperty("user.name"));
        }
    }

    private static boolean userExists(String user) {
        try {
            Process p = new ProcessBuilder("id", "-u", user).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return false;
            }
            return p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
