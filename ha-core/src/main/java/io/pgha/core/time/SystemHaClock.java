package io.pgha.core.time;

import java.time.Instant;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/** The real clock: {@link System#nanoTime()}, {@link Instant#now()} and daemon platform threads. */
public final class SystemHaClock implements HaClock {

    public static final SystemHaClock INSTANCE = new SystemHaClock();

    private SystemHaClock() {}

    @Override
    public long nanoTime() {
        return System.nanoTime();
    }

    @Override
    public Instant wallTime() {
        return Instant.now();
    }

    @Override
    public Wakeup newWakeup() {
        return new LockWakeup();
    }

    @Override
    public Thread startThread(String name, Runnable body) {
        Thread t = new Thread(body, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    private final class LockWakeup implements Wakeup {
        private final ReentrantLock lock = new ReentrantLock();
        private final Condition changed = lock.newCondition();
        private boolean signalled;

        @Override
        public void signal() {
            lock.lock();
            try {
                signalled = true;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }

        @Override
        public boolean awaitUntil(long deadlineNanos) throws InterruptedException {
            lock.lock();
            try {
                while (!signalled) {
                    long left = deadlineNanos - nanoTime();
                    if (left <= 0) {
                        return false;
                    }
                    changed.await(left, TimeUnit.NANOSECONDS);
                }
                signalled = false;
                return true;
            } finally {
                lock.unlock();
            }
        }
    }
}
