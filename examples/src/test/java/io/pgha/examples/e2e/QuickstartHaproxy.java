package io.pgha.examples.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The quickstart's {@code haproxy.cfg} ({@code examples/quickstart/}), the one HAProxy configuration the tests use:
 * {@link QuickstartTest} runs it as it is, the end-to-end suite's HAProxy scenario re-points it at its own members and
 * free ports ({@link #repointed}), so both check the same listeners, health checks and timings.
 */
final class QuickstartHaproxy {

    static final Path FILE = Path.of(System.getProperty("basedir", "."), "quickstart", "haproxy.cfg");

    /** One backend server: a member's PostgreSQL port, checked on its REST port. */
    record Server(String name, int pgPort, int restPort) {}

    private QuickstartHaproxy() {}

    static String read() throws IOException {
        return Files.readString(FILE);
    }

    /** Each {@code listen} section's bind port, by the section's name. */
    static Map<String, Integer> binds(String cfg) {
        Map<String, Integer> out = new LinkedHashMap<>();
        String section = null;
        for (String line : cfg.lines().map(String::strip).toList()) {
            if (line.startsWith("listen ")) {
                section = line.substring("listen ".length()).strip();
            } else if (line.startsWith("bind ") && section != null) {
                String addr = line.substring("bind ".length()).strip();
                out.put(section, Integer.parseInt(addr.substring(addr.lastIndexOf(':') + 1)));
            }
        }
        return out;
    }

    /**
     * {@code cfg} with each listen section's bind port taken from {@code ports} (by section name; every section must
     * have one), and the server lines of each section replaced by one per {@code servers} entry, written like the
     * section's first server line (same options; its name, address port and check port replaced). Everything else,
     * health checks and timings included, stays as the file has it.
     */
    static String repointed(String cfg, Map<String, Integer> ports, List<Server> servers) {
        List<String> out = new ArrayList<>();
        String section = null;
        boolean serversWritten = false;
        for (String line : cfg.lines().toList()) {
            String s = line.strip();
            if (s.startsWith("listen ")) {
                section = s.substring("listen ".length()).strip();
                serversWritten = false;
                out.add(line);
            } else if (section != null && s.startsWith("bind ")) {
                Integer port = ports.get(section);
                if (port == null) {
                    throw new IllegalArgumentException("no port given for listen section '" + section + "'");
                }
                out.add(line.substring(0, line.lastIndexOf(':') + 1) + port);
            } else if (section != null && s.startsWith("server ")) {
                if (!serversWritten) {
                    for (Server sv : servers) {
                        out.add(serverLine(line, sv));
                    }
                    serversWritten = true;
                }
            } else {
                out.add(line);
            }
        }
        return String.join("\n", out) + "\n";
    }

    /** {@code template} ({@code server <name> <host>:<port> ... check port <n> ...}) for {@code sv}. */
    private static String serverLine(String template, Server sv) {
        String indent = template.substring(0, template.indexOf("server"));
        String[] t = template.strip().split("\\s+");
        t[1] = sv.name();
        t[2] = t[2].substring(0, t[2].lastIndexOf(':') + 1) + sv.pgPort();
        for (int i = 3; i + 2 < t.length; i++) {
            if (t[i].equals("check") && t[i + 1].equals("port")) {
                t[i + 2] = Integer.toString(sv.restPort());
            }
        }
        return indent + String.join(" ", t);
    }

    /**
     * {@code cfg} with every server's health checks sent over TLS, verified against {@code caFile} and presenting the
     * client certificate in {@code crtFile} (certificate and key in one PEM, as HAProxy reads it): Patroni's shape for
     * a REST API served over https ({@code check-ssl verify required ca-file ...}). The traffic itself stays plain
     * TCP to PostgreSQL.
     */
    static String checkedOverTls(String cfg, Path caFile, Path crtFile) {
        return cfg.lines().map(l -> l.strip().startsWith("server ")
                ? l + " check-ssl verify required ca-file " + caFile + " crt " + crtFile : l)
                .collect(java.util.stream.Collectors.joining("\n", "", "\n"));
    }

    /** Debian's {@code /usr/sbin/haproxy} (else the one on the PATH) in the foreground on {@code file}. */
    static Process start(Path file, Path log) throws IOException {
        Path haproxy = Files.isExecutable(Path.of("/usr/sbin/haproxy")) ? Path.of("/usr/sbin/haproxy")
                : Path.of("haproxy");
        return new ProcessBuilder(haproxy.toString(), "-db", "-f", file.toString()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    }

    /** Stops the HAProxy {@link #start} started (its own PID), forcibly after 10 s. */
    static void stop(Process hp) throws InterruptedException {
        hp.destroy();
        if (!hp.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
            hp.destroyForcibly().waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
        }
    }
}
