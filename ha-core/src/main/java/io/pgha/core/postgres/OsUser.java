package io.pgha.core.postgres;

import io.pgha.core.config.PostgresSettings;
import io.pgha.core.spi.PostgresException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Who runs PostgreSQL's binaries. PostgreSQL refuses to run as root, so a root JVM drops to {@code runAsUser} with
 * {@code setpriv}, which execs (the child's PID is the program's PID, signals reach it directly). A non-root JVM runs
 * the binaries as itself and {@code runAsUser} is ignored. See docs/decisions/0101.
 *
 * @param root  whether the JVM runs as root
 * @param name  the OS user the binaries run as
 * @param uid   its uid
 * @param gid   its primary gid
 * @param group its primary group's name
 */
record OsUser(boolean root, String name, int uid, int gid, String group) {

    static final String SETPRIV = "setpriv";

    /** Looks up who binaries run as for {@code settings}; a missing user is a clear error. */
    static OsUser resolve(PostgresSettings settings) throws PostgresException {
        boolean root = currentUid() == 0;
        String name = root ? settings.runAsUser() : System.getProperty("user.name");
        int uid;
        int gid;
        String group;
        try {
            uid = Integer.parseInt(id(name, "-u"));
            gid = Integer.parseInt(id(name, "-g"));
            group = id(name, "-gn");
        } catch (NumberFormatException e) {
            throw new PostgresException("runAsUser: cannot read the uid/gid of OS user '" + name + "'", e);
        }
        if (root && uid == 0) {
            throw new PostgresException("runAsUser: '" + name + "' is root, and PostgreSQL refuses to run as root;"
                    + " name an unprivileged OS user such as 'postgres'");
        }
        return new OsUser(root, name, uid, gid, group);
    }

    /** The command line that runs {@code cmd} as this user; with {@code pdeathsig}, tied to the forking thread. */
    List<String> wrap(List<String> cmd, boolean pdeathsig) {
        List<String> out = new ArrayList<>();
        if (root || pdeathsig) {
            out.add(SETPRIV);
            if (root) {
                out.add("--reuid=" + uid);
                out.add("--regid=" + gid);
                out.add("--init-groups");
            }
            if (pdeathsig) {
                // SIGINT is PostgreSQL's fast shutdown: the server stops cleanly when its JVM is gone.
                out.add("--pdeathsig=INT");
            }
            out.add("--");
        }
        out.addAll(cmd);
        return out;
    }

    private static String id(String user, String flag) throws PostgresException {
        try {
            Process p = new ProcessBuilder("id", flag, user).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new PostgresException("runAsUser: 'id " + flag + " " + user + "' did not finish in 10s");
            }
            if (p.exitValue() != 0) {
                throw new PostgresException("runAsUser: OS user '" + user + "' does not exist (id: " + out + ")");
            }
            return out;
        } catch (IOException e) {
            throw new PostgresException("runAsUser: cannot run 'id' to look up OS user '" + user + "': "
                    + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PostgresException("runAsUser: interrupted while looking up OS user '" + user + "'", e);
        }
    }

    /** The JVM's effective uid: /proc/self belongs to it. */
    static int currentUid() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return "root".equals(System.getProperty("user.name")) ? 0 : -1;
        }
    }
}
