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
    /** The end of the current {@link #runUntil}: a simulated thread hands control on directly only up to it. */
    private long runEnd;
    /** The event that just ended (a thread gave control back) has not been followed by {@link #afterEachEvent} yet. */
    private boolean hookPending;
    /** A failure of {@link #afterEachEvent} run on a simulated thread, rethrown as it is by the driver. */
    private RuntimeException hookFailure;
    /** Set while {@link #kill} wakes its victims: they must unwind, not hand control on. */
    private boolean killing;
    /** Counts hand-overs, so that the driver can tell a long chain of direct hand-overs from a hung thread. */
    private long handOvers;

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
            runEnd = endNanos;
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
                    rethrowFailure();
                    boolean hook;
                    synchronized (this) {
                        hook = hookPending;
                        hookPending = false;
                    }
                    if (hook) {
                        afterEachEvent.run();
                    }
                    rethrowFailure();
                    continue;
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
        boolean wasKilling;
        synchronized (this) {
            victims = threads.stream().filter(t -> !t.done && which.test(t)).toList();
            victims.forEach(t -> t.killed = true);
            wasKilling = killing;
            killing = true;
        }
        try {
            for (SimThread t : victims) {
                synchronized (this) {
                    if (t.done) {
                        continue;
                    }
                    t.token++;
                }
                resume(t);
            }
        } finally {
            synchronized (this) {
                killing = wasKilling;
                // A victim's unwinding is part of the kill, not an event of its own.
                hookPending = false;
            }
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
        try {
            // Real time: a simulated thread that blocks outside this clock (a real lock, real I/O) would otherwise
            // hang the whole run instead of failing it with the thread's name. Control may pass from thread to
            // thread for long; only a stretch with no hand-over at all is a hang.
            long seen = -1;
            while (!driverBaton.tryAcquire(REAL_TIME_LIMIT_SECONDS, TimeUnit.SECONDS)) {
                synchronized (this) {
                    if (handOvers == seen) {
                        throw new IllegalStateException("simulated thread " + (current != null ? current.name : t.name)
                                + " did not give control back within " + REAL_TIME_LIMIT_SECONDS
                                + " s of real time: it blocks outside the ManualClock");
                    }
                    seen = handOvers;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while " + t.name + " ran", e);
        }
        synchronized (this) {
            current = null;
        }
    }

    /**
     * Run by a simulated thread that is about to wait: processes the events the driver would process next, as long
     * as they only resume simulated threads, and hands control straight to the next one (or keeps it, when that is
     * itself). Each hand-over through the driver costs two kernel wake-ups; this path costs one, or none. The order
     * of events is the driver's, so a seed replays exactly as before. Callbacks, the end of the run and failures go
     * back to the driver.
     *
     * @return the thread to hand control to, {@code me} to keep it, or {@code null} for the driver
     */
    private SimThread nextInLine(SimThread me) {
        synchronized (this) {
            handOvers++;
            if (!driving || killing || me.killed || failure != null || hookFailure != null) {
                hookPending = true;
                return null;
            }
        }
        while (true) {
            try {
                afterEachEvent.run();
            } catch (RuntimeException e) {
                synchronized (this) {
                    hookFailure = e;
                }
                return null;
            }
            synchronized (this) {
                while (true) {
                    Event e = queue.peek();
                    if (e == null || e.time > runEnd || !(e instanceof Resume r)) {
                        return null;
                    }
                    queue.poll();
                    now = Math.max(now, e.time);
                    events++;
                    SimThread t = r.thread;
                    if (t.done || r.token != t.token) {
                        continue;
                    }
                    if (t.frozenUntil > now) {
                        schedule(new Resume(t.frozenUntil, seq++, t, r.token));
                        continue;
                    }
                    current = t;
                    return t;
                }
            }
        }
    }

    /** Gives control back to the driver and waits to be resumed. Simulated thread only. */
    private void park(SimThread me) {
        SimThread next = nextInLine(me);
        if (next == me) {
            return;
        }
        if (next == null) {
            driverBaton.release();
        } else {
            next.baton.release();
        }
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
        RuntimeException h = hookFailure;
        if (h != null) {
            hookFailure = null;
            throw h;
        }
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
                synchronized (ManualClock.this) {
                    done = true;
                    hookPending = true;
                    handOvers++;
                }
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
