package io.pgha.examples.agent;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * SIGHUP as a reload trigger, as in Patroni (a systemd unit's {@code ExecReload=/bin/kill -s HUP $MAINPID}): the same
 * reload as {@code POST /reload}. The signal's thread only hands the request over; the reload is asked for on a thread
 * of its own, and the member carries it out on its next HA cycle, as it does the REST API's. Signals that arrive while
 * one reload waits to be asked for are folded into it: that reload reads the file as it is by then. Installed by
 * {@link AgentMain} only (decision 0610): signal handlers are the JVM's, so an application embedding pgha owns them.
 */
final class SighupReload implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(SighupReload.class);

    private final Supplier<String> reload;
    private final String member;
    /** One thread, one waiting request at most; more are dropped, the waiting one covers them. */
    private final ThreadPoolExecutor worker;

    /** {@code reload}: the member's reload ({@code HaCluster::reload}); returns its answer or throws why not. */
    SighupReload(String member, Supplier<String> reload) {
        this.member = member;
        this.reload = reload;
        this.worker = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(1), r -> {
            Thread t = new Thread(r, "pgha-sighup-reload");
            t.setDaemon(true);
            return t;
        }, new ThreadPoolExecutor.DiscardPolicy());
    }

    /**
     * Makes SIGHUP call {@link #signalled()}. False (with a warning) when the JVM keeps the signal for itself
     * ({@code -Xrs}) or refuses it; under {@code nohup} the signal stays ignored, as the one who started the agent
     * asked.
     */
    boolean install() {
        try {
            Signal.handle(new Signal("HUP"), s -> signalled());
            return true;
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            LOG.warn("pgha agent {}: SIGHUP cannot trigger a reload here ({}); use POST /reload or patronictl reload",
                    member, e.getMessage());
            return false;
        }
    }

    /** From the signal's thread: returns at once. */
    void signalled() {
        worker.execute(this::reloadNow);
    }

    private void reloadNow() {
        try {
            LOG.info("pgha agent {}: SIGHUP: {}", member, reload.get());
        } catch (RuntimeException e) {
            // Not running yet, closing, or another request in the way: the running settings stay as they are.
            LOG.warn("pgha agent {}: SIGHUP: no reload: {}", member, e.getMessage());
        }
    }

    @Override
    public void close() {
        worker.shutdownNow();
    }
}
