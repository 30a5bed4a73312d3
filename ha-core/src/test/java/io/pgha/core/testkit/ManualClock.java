package io.pgha.core.testkit;

import io.pgha.core.time.HaClock;
import io.pgha.core.time.Wakeup;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * <b>Test fake.</b> A virtual clock that also schedules threads, so that code written for real threads (the HA loop,
 * its lease guard, long actions) runs deterministically.
 *
 * <p>Time only moves when the driver calls {@link #runUntil}. Threads made with {@link #startThread} are real Java
 * threads, but exactly one of them (or the driver) runs at any moment: a thread runs until it waits
 * ({@link #sleepUntil}, {@link Wakeup#awaitUntil}) and then hands control back. Pending wake-ups and scheduled
 * callbacks form one queue ordered by (time, insertion order), so a given seed always produces the same interleaving.
 *
 * <p>Faults: {@link #kill} ends a group of threads (a crashed process) by throwing {@link Killed} at their current
 * wait; {@link #freeze} holds threads past their wake-up time (a stalled loop).
 *
 * <p>Outside {@link #runUntil} (a unit test calling code directly), a wait on the calling thread simply moves time
 * forward: a plain manual clock.
 */
public final class ManualClock implements HaClock {

    /** How long the driver waits, in real time, for a simulated thread to give control back. */
    private static final long REAL_TIME_LIMIT_SECONDS = 60;


    /** Thrown at a killed thread's wait point; an Error so that no {@code catch (RuntimeException)} swallows it. */
    public static final class Killed extends Error {
        private static final long serialVersionUID = 1L;

        Killed() {
            super("simulated thread killed", null, false, false);
        }
    }

    private final Instant epoch;
    private long now;
    private long seq;
    private final PriorityQueue<Event> queue = new PriorityQueue<>();
    private final Semaphore driverBaton = new Semaphore(0);
    private final List<SimThread> threads = new ArrayList<>();
    private SimThread current;
    private boolean driving;
    private Thread driverThread;
    private Throwable failure;
    private String defaultGroup = "";
    private long events;
    private Runnable afterEachEvent = () -> {};

    public ManualClock() {
        this(Instant.parse("2026-01-01T00:00:00Z"));
    }

    public ManualClock(Instant epoch) {
        this.epoch = epoch;
    }

    // ------------------------------------------------------------------------------------------------ HaClock

    @Override
    public synchronized long nanoTime() {
        return now;
    }

    @Override
    public synchronized Instant wallTime() {
        return epoch.plusNanos(now);
    }

    @Override
    public Wakeup newWakeup() {
        return new SimWakeup();
    }

    @Override
    public Thread startThread(String name, Runnable body) {
        SimThread t;
        synchronized (this) {
            String group = current != null ? current.group : defaultGroup;
            t = new SimThread(name, group);
            threads.add(t);
        }
        Thread thread = new Thread(() -> t.run(body), "sim-" + name);
        thread.setDaemon(true);
        t.thread = thread;
        thread.start();
        synchronized (this) {
            schedule(new Resume(now, seq++, t, t.token));
        }
        return thread;
    }

    @Override
    public void sleepUntil(long deadlineNanos) {
        SimThread me = currentSimThread();
        if (me == null) {
            advanceOutsideDriver(deadlineNanos);
            return;
        }
        long token;
        synchronized (this) {
            token = ++me.token;
            schedule(new Resume(Math.max(deadlineNanos, now), seq++, me, token));
        }
        park(me);
    }

    // ------------------------------------------------------------------------------------------------ driver

    /** Threads started from the driver (not from a simulated thread) join this group until changed. */
    public synchronized void setDefaultGroup(String group) {
        this.defaultGroup = group;
    }

    /** Called after every event the driver processes (the simulation checks its invariants there). */
    public void afterEachEvent(Runnable hook) {
        this.afterEachEvent = hook;
    }

    /** Runs {@code r} on the driver at virtual time {@code at} (not before now). */
    public synchronized void at(long atNanos, Runnable r) {
        schedule(new Callback(Math.max(atNanos, now), seq++, r));
    }

    public void after(Duration d, Runnable r) {
        at(nanoTime() + d.toNanos(), r);
    }

    /** Events processed so far. */
    public synchronized long events() {
        return events;
    }

    /**
     * Processes everything scheduled up to {@code endNanos}, in order, then sets the time to {@code endNanos}. Rethrows
     * the first failure of a simulated thread (other than {@link Killed}).
     */
    public void runUntil(long endNanos) {
        synchronized (this) {
            if (driving) {
                throw new IllegalStateException("runUntil is not re-entrant");
            }
            driving = true;
            driverThread = Thread.currentThread();
        }
        try {
            while (true) {
                Event e;
                synchronized (this) {
                    e = queue.peek();
                    if (e == null || e.time > endNanos) {
                        now = Math.max(now, endNanos);
                        return;
                    }
                    queue.poll();
                    now = Math.max(now, e.time);
                    events++;
                }
                if (e instanceof Callback c) {
                    c.body.run();
                } else if (e instanceof Resume r) {
                    SimThread t = r.thread;
                    synchronized (this) {
                        if (t.done || r.token != t.token) {
                            continue; // stale: the thread was woken another way, or has ended
                        }
                        if (t.frozenUntil > now) {
                            schedule(new Resume(t.frozenUntil, seq++, t, r.token));
                            continue;
                        }
                    }
                    resume(t);
                }
                rethrowFailure();
                afterEachEvent.run();
                rethrowFailure();
            }
        } finally {
            synchronized (this) {
                driving = false;
                driverThread = null;
            }
        }
    }

    public void runFor(Duration d) {
        runUntil(nanoTime() + d.toNanos());
    }

    /** Ends every live thread of {@code group}: each throws {@link Killed} at its current wait. */
    public void kill(String group) {
        killMatching(t -> t.group.equals(group));
    }

    /** Ends every live thread (end of a simulation run). */
    public void killAll() {
        killMatching(t -> true);
    }

    private void killMatching(Predicate<SimThread> which) {
        List<SimThread> victims;
        synchronized (this) {
            victims = threads.stream().filter(t -> !t.done && which.test(t)).toList();
            victims.forEach(t -> t.killed = true);
        }
        for (SimThread t : victims) {
            synchronized (this) {
                if (t.done) {
                    continue;
                }
                t.token++;
            }
            resume(t);
        }
        synchronized (this) {
            threads.removeIf(t -> t.done);
        }
        if (failure instanceof Killed) {
            failure = null;
        }
    }

    /** Holds back the threads of {@code group} whose name starts with {@code namePrefix} until {@code untilNanos}. */
    public synchronized void freeze(String group, String namePrefix, long untilNanos) {
        for (SimThread t : threads) {
            if (!t.done && t.group.equals(group) && t.name.startsWith(namePrefix)) {
                t.frozenUntil = Math.max(t.frozenUntil, untilNanos);
            }
        }
    }

    /** Lets the frozen threads of {@code group} run again at their next wake-up. */
    public synchronized void thaw(String group) {
        for (SimThread t : threads) {
            if (t.group.equals(group)) {
                t.frozenUntil = 0;
            }
        }
    }

    /** Live simulated threads (for leak checks). */
    public synchronized long liveThreads() {
        return threads.stream().filter(t -> !t.done).count();
    }

    // ------------------------------------------------------------------------------------------------ internals

    private synchronized SimThread currentSimThread() {
        Thread me = Thread.currentThread();
        return current != null && current.thread == me ? current : null;
    }

    private synchronized void advanceOutsideDriver(long deadline) {
        if (driving && Thread.currentThread() == driverThread) {
            throw new IllegalStateException("the simulation driver cannot wait; only simulated threads can");
        }
        if (driving) {
            throw new IllegalStateException("a thread the clock does not schedule tried to wait: "
                    + Thread.currentThread().getName());
        }
        now = Math.max(now, deadline);
    }

    private void schedule(Event e) {
        queue.add(e);
    }

    /** Hands control to {@code t} and waits until it waits again or ends. Driver only. */
    private void resume(SimThread t) {
        synchronized (this) {
            current = t;
        }
        t.baton.release();
        boolean yielded;
        try {
            // Real time: a simulated thread that blocks outside this clock (a real lock, real I/O) would otherwise
            // hang the whole run instead of failing it with the thread's name.
            yielded = driverBaton.tryAcquire(REAL_TIME_LIMIT_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while " + t.name + " ran", e);
        }
        if (!yielded) {
            throw new IllegalStateException("simulated thread " + t.name + " did not give control back within "
                    + REAL_TIME_LIMIT_SECONDS + " s of real time: it blocks outside the ManualClock");
        }
        synchronized (this) {
            current = null;
        }
    }

    /** Gives control back to the driver and waits to be resumed. Simulated thread only. */
    private void park(SimThread me) {
        driverBaton.release();
        try {
            me.baton.acquire();
        } catch (InterruptedException e) {
            // Only the end of the run (or of the JVM) interrupts a parked simulated thread: it ends like a kill.
            Thread.currentThread().interrupt();
            me.killed = true;
        }
        if (me.killed) {
            throw new Killed();
        }
    }

    private synchronized void rethrowFailure() {
        Throwable f = failure;
        if (f != null && !(f instanceof Killed)) {
            failure = null;
            if (f instanceof RuntimeException re) {
                throw re;
            }
            if (f instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException(f);
        }
    }

    private final class SimThread {
        final String name;
        final String group;
        final Semaphore baton = new Semaphore(0);
        volatile Thread thread;
        long token;
        long frozenUntil;
        volatile boolean killed;
        volatile boolean done;

        SimThread(String name, String group) {
            this.name = name;
            this.group = group;
        }

        void run(Runnable body) {
            baton.acquireUninterruptibly();
            try {
                if (!killed) {
                    body.run();
                }
            } catch (Killed k) {
                // the process this thread belonged to was killed
            } catch (Throwable e) {
                synchronized (ManualClock.this) {
                    if (failure == null) {
                        failure = new IllegalStateException("simulated thread " + name + " failed: " + e, e);
                    }
                }
            } finally {
                done = true;
                driverBaton.release();
            }
        }
    }

    private final class SimWakeup implements Wakeup {
        private boolean signalled;
        private SimThread waiter;
        private long waiterToken;

        @Override
        public void signal() {
            synchronized (ManualClock.this) {
                signalled = true;
                if (waiter != null && !waiter.done && waiter.token == waiterToken) {
                    schedule(new Resume(now, seq++, waiter, waiterToken));
                }
                waiter = null;
            }
        }

        @Override
        public boolean awaitUntil(long deadlineNanos) {
            SimThread me = currentSimThread();
            synchronized (ManualClock.this) {
                if (signalled) {
                    signalled = false;
                    return true;
                }
                if (me == null) {
                    advanceOutsideDriver(deadlineNanos);
                    return false;
                }
                long token = ++me.token;
                waiter = me;
                waiterToken = token;
                schedule(new Resume(Math.max(deadlineNanos, now), seq++, me, token));
            }
            park(me);
            synchronized (ManualClock.this) {
                if (waiter == me) {
                    waiter = null;
                }
                if (signalled) {
                    signalled = false;
                    return true;
                }
                return false;
            }
        }
    }

    private abstract static sealed class Event implements Comparable<Event> permits Resume, Callback {
        final long time;
        final long order;

        Event(long time, long order) {
            this.time = time;
            this.order = order;
        }

        @Override
        public int compareTo(Event o) {
            int c = Long.compare(time, o.time);
            return c != 0 ? c : Long.compare(order, o.order);
        }
    }

    private static final class Resume extends Event {
        final SimThread thread;
        final long token;

        Resume(long time, long order, SimThread thread, long token) {
            super(time, order);
            this.thread = thread;
            this.token = token;
        }
    }

    private static final class Callback extends Event {
        final Runnable body;

        Callback(long time, long order, Runnable body) {
            super(time, order);
            this.body = body;
        }
    }
}
