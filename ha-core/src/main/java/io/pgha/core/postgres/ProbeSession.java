package io.pgha.core.postgres;

import java.net.SocketTimeoutException;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The one connection the probe keeps open to this node's server, so that a probe every HA cycle does not fork a new
 * backend every cycle (docs/decisions/0106). Only the connection is kept: every probe runs its queries again, so no
 * answer outlives the cycle that asked.
 *
 * <p>The connection is dropped and opened anew when the postmaster's PID is not the one it was opened under (the
 * server restarted), and after any failure on it. A failure on a kept connection that came back at once (the backend
 * was terminated, the server restarted under the same PID) is retried once on a fresh connection, so a broken kept
 * connection looks exactly like the fresh connection would have; a socket timeout is not retried, so a hung server
 * holds the probe no longer than it did with a fresh connection per probe (connect timeout plus socket timeout).
 *
 * <p>A probe that finds the kept connection in use by another thread (a REST status read during a cycle's probe, say)
 * uses a fresh connection of its own rather than wait behind a probe that may be hanging.
 */
final class ProbeSession implements AutoCloseable {

    /** The queries to run on a connection: the probe's SQL. */
    interface Work<T> {
        T run(Connection c) throws SQLException;
    }

    /** Opens a new connection to the local server, with the probe's timeouts. */
    interface Opener {
        Connection open() throws SQLException;
    }

    private final Opener opener;
    private final ReentrantLock lock = new ReentrantLock();
    /** Guarded by {@link #lock}. */
    private Connection kept;
    /** The postmaster PID {@link #kept} was opened under; guarded by {@link #lock}. */
    private long keptPid;
    private volatile boolean closed;
    private volatile boolean releaseRequested;

    ProbeSession(Opener opener) {
        this.opener = opener;
    }

    /**
     * Runs {@code work} on the kept connection (opening it when needed), or on a fresh one when it is busy.
     *
     * @param pid the PID of the postmaster running now, as the caller just read it
     */
    <T> T run(long pid, Work<T> work) throws SQLException {
        if (closed || !lock.tryLock()) {
            try (Connection c = opener.open()) {
                return work.run(c);
            }
        }
        try {
            if (kept != null && keptPid != pid) {
                drop();
            }
            boolean reused = kept != null;
            while (true) {
                if (kept == null) {
                    kept = opener.open();
                    keptPid = pid;
                }
                try {
                    return work.run(kept);
                } catch (SQLException | RuntimeException e) {
                    drop();
                    if (!reused || timedOut(e)) {
                        throw e;
                    }
                    reused = false;
                }
            }
        } finally {
            if (closed || releaseRequested) {
                releaseRequested = false;
                drop();
            }
            lock.unlock();
        }
    }

    private static boolean timedOut(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SocketTimeoutException) {
                return true;
            }
        }
        return false;
    }

    private void drop() {
        Connection c = kept;
        kept = null;
        if (c != null) {
            try {
                c.close();
            } catch (SQLException | RuntimeException ignored) {
                // A broken connection may fail to close cleanly; its socket is closed regardless.
            }
        }
    }

    /**
     * Closes the kept connection now, or when the probe running now ends; the next probe opens a new one. A smart
     * shutdown waits for every session to end, this one too.
     */
    void release() {
        releaseRequested = true;
        if (lock.tryLock()) {
            try {
                releaseRequested = false;
                drop();
            } finally {
                lock.unlock();
            }
        }
    }

    /**
     * Closes the kept connection; later probes use a fresh connection each. A probe running now closes it when it
     * ends, so this never waits behind a hanging server.
     */
    @Override
    public void close() {
        closed = true;
        if (lock.tryLock()) {
            try {
                drop();
            } finally {
                lock.unlock();
            }
        }
    }
}
