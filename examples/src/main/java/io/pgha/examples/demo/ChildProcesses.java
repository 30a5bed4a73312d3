package io.pgha.examples.demo;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

/**
 * Starts the demo's child processes (agents, etcd) so that they cannot outlive the demo, and finds and kills
 * processes by PID.
 *
 * <p>Each child is started through {@code setpriv --pdeathsig=TERM}: if the demo's JVM dies without running its
 * cleanup (kill -9), the kernel sends the children SIGTERM, and an agent then stops its PostgreSQL and leaves. Linux
 * ties that signal to the <em>thread</em> that forked the child, so every start is handed to one thread that lives
 * until {@link #close()} (the same reason as LocalPostgres' launcher, docs/decisions/0103).
 */
final class ChildProcesses implements AutoCloseable {

    private static final Path DEV_NULL = Path.of("/dev/null");

    private final BlockingQueue<Runnable> tasks = new LinkedBlockingQueue<>();
    private final Thread thread;
    private final String setpriv;
    private volatile boolean closed;

    ChildProcesses() {
        setpriv = findOnPath("setpriv").map(Path::toString).orElse(null);
        thread = new Thread(this::loop, "pgha-demo-launcher");
        thread.setDaemon(true);
        thread.start();
    }

    /** Whether children are tied to this JVM (setpriv found). */
    boolean tiedToJvm() {
        return setpriv != null;
    }

    /**
     * Starts {@code command} with its output appended to {@code log}, standard input from /dev/null, tied to this JVM
     * when setpriv exists. Waits at most 30 s for the fork itself.
     */
    Process start(List<String> command, Path log) throws IOException {
        return start(command, log, null, Map.of());
    }

    /** As {@link #start(List, Path)}, in {@code workingDir} (null: the demo's) with {@code env} added. */
    Process start(List<String> command, Path log, Path workingDir, Map<String, String> env) throws IOException {
        if (closed) {
            throw new IllegalStateException("the demo is shutting down");
        }
        List<String> cmd = new ArrayList<>();
        if (setpriv != null) {
            cmd.addAll(List.of(setpriv, "--pdeathsig=TERM", "--"));
        }
        cmd.addAll(command);
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .redirectInput(DEV_NULL.toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        if (workingDir != null) {
            pb.directory(workingDir.toFile());
        }
        pb.environment().putAll(env);
        CompletableFuture<Process> f = new CompletableFuture<>();
        tasks.add(() -> {
            try {
                f.complete(pb.start());
            } catch (IOException | RuntimeException e) {
                f.completeExceptionally(e);
            }
        });
        try {
            return f.get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new IOException("could not start " + command.get(0) + ": " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            throw new IOException("starting " + command.get(0) + " did not finish in 30 s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while starting " + command.get(0));
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
                // Never let this thread die early: its end signals every child it started.
            }
        }
    }

    /** Ends the launcher thread; children still running get SIGTERM from the kernel. */
    @Override
    public void close() {
        closed = true;
        thread.interrupt();
    }

    // ------------------------------------------------------------------------------------------------ PID helpers

    /** {@code pid} and all its descendants, killed with SIGKILL at once; returns how many were alive. */
    static int killTree(ProcessHandle root) {
        List<ProcessHandle> all = new ArrayList<>();
        all.add(root);
        // Collect first, kill after: a child whose parent died is re-parented and could no longer be found.
        root.descendants().forEach(all::add);
        int n = 0;
        for (ProcessHandle p : all) {
            if (p.isAlive() && p.destroyForcibly()) {
                n++;
            }
        }
        return n;
    }

    /** Waits until every process in {@code handles} has exited, at most {@code timeoutMillis}. */
    static boolean awaitExit(List<ProcessHandle> handles, long timeoutMillis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        for (ProcessHandle p : handles) {
            long left = deadline - System.nanoTime();
            if (left <= 0 && p.isAlive()) {
                return false;
            }
            try {
                p.onExit().get(Math.max(left, 1), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                return false;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            } catch (ExecutionException e) {
                // onExit never fails; treat like exited
            }
        }
        return true;
    }

    /** The process's command line, arguments separated by spaces; empty when it is gone or unreadable. */
    static Optional<String> cmdline(long pid) {
        try {
            byte[] b = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline"));
            return Optional.of(new String(b, StandardCharsets.UTF_8).replace('\0', ' ').trim());
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Live processes whose command line contains {@code text} (a work directory path), from /proc. */
    static List<ProcessHandle> mentioning(String text) {
        List<ProcessHandle> out = new ArrayList<>();
        long self = ProcessHandle.current().pid();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            procs.map(p -> p.getFileName().toString())
                    .filter(n -> n.chars().allMatch(Character::isDigit))
                    .mapToLong(Long::parseLong)
                    .filter(pid -> pid != self)
                    .forEach(pid -> {
                        if (cmdline(pid).filter(c -> c.contains(text)).isPresent()) {
                            ProcessHandle.of(pid).filter(ProcessHandle::isAlive).ifPresent(out::add);
                        }
                    });
        } catch (IOException e) {
            // no /proc: nothing to find
        }
        return out;
    }

    /** The PID in the first line of a {@code postmaster.pid} file, if the file exists and holds one. */
    static Optional<Long> postmasterPid(Path dataDir) {
        try {
            List<String> lines = Files.readAllLines(dataDir.resolve("postmaster.pid"), StandardCharsets.UTF_8);
            return lines.isEmpty() ? Optional.empty() : Optional.of(Long.parseLong(lines.get(0).trim()));
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** {@code name} as an executable on PATH, or in /usr/bin and /bin when PATH lacks it. */
    static Optional<Path> findOnPath(String name) {
        List<String> dirs = new ArrayList<>();
        String path = System.getenv("PATH");
        if (path != null) {
            dirs.addAll(List.of(path.split(File.pathSeparator)));
        }
        dirs.addAll(List.of("/usr/bin", "/bin", "/usr/sbin", "/sbin"));
        for (String d : dirs) {
            if (d.isEmpty()) {
                continue;
            }
            Path p = Path.of(d, name);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }
}
