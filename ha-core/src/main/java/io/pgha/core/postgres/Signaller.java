package io.pgha.core.postgres;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends signals to the postmaster without forking. The JDK can send only SIGTERM and SIGKILL; PostgreSQL's stop
 * modes need SIGINT (fast) and SIGQUIT (immediate, the fence). Forking {@code kill} at fence time can fail exactly
 * when fencing matters (no file descriptors left, no memory to fork), and a fence that waits for a failed fork
 * overruns the lease margin. So one shell is started ahead of time and kept: a signal is a line written to its
 * stdin (a pipe that is already open), and the shell's {@code kill} builtin sends it with no fork either.
 *
 * <p>{@link #send} says whether the line was handed over; the caller falls back to SIGKILL through the JDK when not.
 */
final class Signaller implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(LocalPostgres.class);

    /** Reads "SIG PID" lines and signals with the builtin; a bad line is skipped, never fatal. */
    private static final String SCRIPT = "while read -r s p; do kill -s \"$s\" \"$p\" 2>/dev/null; done";

    private final String prefix;
    private Process shell;
    private OutputStream in;

    Signaller(String prefix) {
        this.prefix = prefix;
        start();
    }

    private synchronized void start() {
        try {
            shell = new ProcessBuilder("/bin/sh", "-c", SCRIPT)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            in = shell.getOutputStream();
        } catch (IOException e) {
            LOG.warn("{}cannot start the signal shell ({}); signals fall back to kill(1) or SIGKILL", prefix,
                    e.getMessage());
            shell = null;
            in = null;
        }
    }

    /**
     * Hands SIG{@code sig} for {@code pid} to the shell. When the shell has died it is restarted once (that forks:
     * fine for a stop, and the fence falls back to SIGKILL if even that fails).
     *
     * @return true when the request was written
     */
    synchronized boolean send(long pid, String sig) {
        for (int attempt = 0; attempt < 2; attempt++) {
            if (shell != null && shell.isAlive()) {
                try {
                    in.write((sig + " " + pid + "\n").getBytes(StandardCharsets.US_ASCII));
                    in.flush();
                    return true;
                } catch (IOException e) {
                    LOG.warn("{}the signal shell did not take SIG{} for pid {}: {}", prefix, sig, pid,
                            e.getMessage());
                }
            }
            if (attempt == 0) {
                close();
                start();
            }
        }
        return false;
    }

    /** The shell's PID, or -1 when it is not running (tests kill it to exercise the fallback). */
    synchronized long shellPid() {
        return shell != null && shell.isAlive() ? shell.pid() : -1;
    }

    @Override
    public synchronized void close() {
        if (shell != null) {
            shell.destroyForcibly();
            shell = null;
            in = null;
        }
    }
}
