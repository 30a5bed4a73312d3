package io.pgha.core.postgres;

import io.pgha.core.spi.PostgresException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Runs PostgreSQL's short-lived binaries (initdb, pg_basebackup, pg_rewind, pg_controldata, ...) as the
 * {@link OsUser}, in a clean environment, with a time bound. Output is kept (its tail) for error messages.
 */
final class Runner {

    /** Lines of output kept for an error message. */
    private static final int KEEP_LINES = 120;

    /** What a command printed and how it ended. */
    record Result(int exitCode, String output) {
        boolean ok() {
            return exitCode == 0;
        }
    }

    private final OsUser user;
    private final Path binDir;
    private final Path home;
    /** The binary each thread runs now: a cancel kills the one its worker waits for, and no other thread's. */
    private final Map<Thread, Process> running = new ConcurrentHashMap<>();
    /** The thread whose operations were cancelled ({@link #cancel}); a later cancel replaces it. */
    private volatile Thread cancelled;

    Runner(OsUser user, Path binDir, Path home) {
        this.user = user;
        this.binDir = binDir;
        this.home = home;
    }

    /** A process builder for {@code cmd} as the OS user, with a clean environment. */
    ProcessBuilder builder(List<String> cmd, boolean pdeathsig) {
        ProcessBuilder pb = new ProcessBuilder(user.wrap(cmd, pdeathsig));
        Map<String, String> env = pb.environment();
        // Nothing of the JVM's environment (PGPASSWORD, PGHOST, root's HOME, ...) may leak into PostgreSQL's tools.
        env.clear();
        env.put("PATH", binDir + ":/usr/bin:/bin");
        // HOME is the node directory: libpq then never reads some other ~/.pgpass or ~/.psqlrc.
        env.put("HOME", home.toString());
        // English messages: pg_controldata's output and the server log are parsed and quoted in errors.
        env.put("LANG", "C");
        env.put("LC_ALL", "C");
        env.put("PGAPPNAME", "pgha");
        return pb;
    }

    /** Runs the binary {@code program} from binDir with {@code args}; never throws for a non-zero exit. */
    Result run(String what, Duration timeout, String program, List<String> args) throws PostgresException {
        return run(what, timeout, program, args, null);
    }

    /**
     * Like {@link #run(String, Duration, String, List)}, passing every output line to {@code lines} as well (for
     * output too large to keep whole, e.g. pg_waldump).
     */
    Result run(String what, Duration timeout, String program, List<String> args, Consumer<String> lines)
            throws PostgresException {
        List<String> cmd = new java.util.ArrayList<>();
        cmd.add(binDir.resolve(program).toString());
        cmd.addAll(args);
        checkCancelled(what);
        Process p;
        try {
            p = builder(cmd, false).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new PostgresException(what + ": cannot run " + program + ": " + e.getMessage(), e);
        }
        running.put(Thread.currentThread(), p);
        try {
            // Registered first, then checked: a cancel between the start and the registration is not missed.
            if (isCancelled()) {
                killTree(p);
            }
            Result r = await(what, timeout, program, p, lines);
            checkCancelled(what + ": " + program + " was killed");
            return r;
        } finally {
            running.remove(Thread.currentThread(), p);
        }
    }

    private Result await(String what, Duration timeout, String program, Process p, Consumer<String> lines)
            throws PostgresException {
        Deque<String> tail = new ArrayDeque<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(
                    new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (lines != null) {
                        lines.accept(line);
                    }
                    synchronized (tail) {
                        tail.addLast(line);
                        if (tail.size() > KEEP_LINES) {
                            tail.removeFirst();
                        }
                    }
                }
            } catch (IOException e) {
                // The process ended or was killed: what was read so far is what we have.
            }
        }, "pgha-output-" + program);
        reader.setDaemon(true);
        reader.start();
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
                reader.join(2000);
                throw new PostgresException(what + ": " + program + " did not finish within " + timeout
                        + " and was killed; its last output:\n" + joined(tail));
            }
            reader.join(10_000);
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new PostgresException(what + ": interrupted while " + program + " ran", e);
        }
        return new Result(p.exitValue(), joined(tail));
    }

    /**
     * Cancels {@code worker}'s operations: the binary it runs now is killed (its children first) and every later
     * {@link #run} on it, like {@link #checkCancelled}, throws. Waits at most a few seconds for the kill.
     */
    void cancel(Thread worker) {
        cancelled = worker;
        Process p = running.get(worker);
        if (p != null) {
            killTree(p);
        }
    }

    /** The calling thread's operations were cancelled. */
    boolean isCancelled() {
        return cancelled == Thread.currentThread();
    }

    /** Throws when the calling thread's operations were cancelled. */
    void checkCancelled(String what) throws PostgresException {
        if (isCancelled()) {
            throw new PostgresException(what + ": cancelled");
        }
    }

    private static void killTree(Process p) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        try {
            p.waitFor(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Runs and requires exit code 0; otherwise the message carries the command's output. */
    String runOk(String what, Duration timeout, String program, List<String> args) throws PostgresException {
        Result r = run(what, timeout, program, args);
        if (!r.ok()) {
            throw new PostgresException(what + ": " + program + " failed with exit code " + r.exitCode()
                    + (r.output().isBlank() ? "" : ":\n" + r.output()));
        }
        return r.output();
    }

    private static String joined(Deque<String> tail) {
        synchronized (tail) {
            return String.join("\n", tail).strip();
        }
    }
}
