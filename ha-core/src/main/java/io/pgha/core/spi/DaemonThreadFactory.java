package io.pgha.core.spi;

import java.util.Objects;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Threads for an adapter's own work (keepalives, watches, callbacks, HTTP workers): daemon threads, so a member that
 * was never closed does not keep the JVM alive, named {@code <name>-1}, {@code <name>-2}, ... so a thread dump shows
 * which member and which job each one belongs to.
 */
public final class DaemonThreadFactory implements ThreadFactory {

    private final String name;
    private final AtomicInteger created = new AtomicInteger();

    /** @param name the prefix of every thread's name, e.g. {@code pgha-etcd-orders-db1-keepalive} */
    public DaemonThreadFactory(String name) {
        this.name = Objects.requireNonNull(name, "name");
    }

    @Override
    public Thread newThread(Runnable body) {
        Thread t = new Thread(body, name + "-" + created.incrementAndGet());
        t.setDaemon(true);
        return t;
    }
}
