package io.pgha.core.postgres;

import java.io.IOException;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * Starts postmasters from one long-lived thread. Linux ties {@code PR_SET_PDEATHSIG} to the <em>thread</em> that
 * forked the child, not to the process: a postmaster started with {@code setpriv --pdeathsig} from a short-lived
 * thread (an HA-loop action thread, a test thread) would be signalled as soon as that thread ended. So every launch
 * is handed to this thread, which lives until {@link #close()}. When it ends, its postmasters get a fast-shutdown
 * signal; that is what ties PostgreSQL to the JVM. See docs/decisions/0103.
 */
final class PostmasterLauncher implements AutoCloseable {

    private final BlockingQueue<Runnable> tasks = new LinkedBlockingQueue<>();
    private final Thread thread;
    private volatile boolean closed;

    PostmasterLauncher(String name) {
        thread = new Thread(this::loop, "pgha-postmaster-launcher-" + name);
        // A daemon: the JVM must not wait for it, and when the JVM goes, the postmasters go too.
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * Starts {@code pb} on the launcher thread and returns the started process. Waits for the launch even when
     * interrupted (the interrupt flag is kept): giving up early could leave a postmaster nobody knows about.
     */
    Process start(ProcessBuilder pb) throws IOException {
        if (closed) {
            throw new IllegalStateException("the postmaster launcher is closed");
        }
        CompletableFuture<Process> f = new CompletableFuture<>();
        tasks.add(() -> {
            try {
                f.complete(pb.start());
            } catch (IOException | RuntimeException e) {
                f.completeExceptionally(e);
            }
        });
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return f.get();
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof IOException io) {
                        throw io;
                    }
                    throw new IllegalStateException("could not start the postmaster: " + e.getCause(), e.getCause());
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void loop() {
        while (!closed) {
            try {
                tasks.take().run();
            } catch (InterruptedException e) {
                if (closed) {
                    return;
                }
            } catch (RuntimeException e) {
                // Never let the thread die: its death would signal every postmaster it started.
            }
        }
    }

    /** Ends the thread; postmasters it started receive their death signal (fast shutdown). */
    @Override
    public void close() {
        closed = true;
        thread.interrupt();
    }
}
