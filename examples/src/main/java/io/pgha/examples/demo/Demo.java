package io.pgha.examples.demo;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * The README's demo: on one machine, a DCS (ZooKeeper in this JVM by default) and three pgha members, each the
 * standalone agent in its own JVM with its own PostgreSQL; a writer inserts numbered rows through the leader; the
 * leader is killed with SIGKILL (agent and PostgreSQL); the demo prints a timeline of what it measured and checks
 * that every acknowledged row is on the new leader. Everything it started is stopped by PID and its work directory
 * removed, also on failure and on Ctrl-C.
 *
 * <pre>./demo [--store zookeeper|etcd|consul] [--help]</pre>
 *
 * Exit status: 0 the failover happened and no acknowledged row was lost; 1 the demo failed (one line says why);
 * 2 bad command line; 3 a prerequisite is missing (one line says what to install); 130 interrupted.
 */
public final class Demo {

    /** The outcome, for {@code main} and for the test. */
    public record Result(int exitCode, Path workDir, List<Long> pids) {}

    static final String SCOPE_PREFIX = "pgha-demo";

    private Demo() {}

    public static void main(String[] args) {
        // This JVM hosts ZooKeeper, whose INFO lines would bury the timeline; the agents log to their own files.
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "error");
        }
        Result r = run(args, System.out, System.err);
        System.exit(r.exitCode());
    }

    /** Runs the demo; never calls {@code System.exit}, never throws. */
    public static Result run(String[] args, PrintStream out, PrintStream err) {
        long start = System.nanoTime();
        DemoOptions options;
        Prerequisites.Postgres pg;
        Path etcd = null;
        try {
            options = DemoOptions.parse(args);
            pg = Prerequisites.postgres(options);
            if (options.store() == DemoOptions.Store.ETCD) {
                etcd = Prerequisites.etcd();
            } else if (options.store() == DemoOptions.Store.CONSUL) {
                Prerequisites.consul(options);
            }
        } catch (DemoException e) {
            (e.exitCode() == 0 ? out : err).println(e.exitCode() == 0 ? e.getMessage() : "pgha demo: "
                    + e.getMessage());
            return new Result(e.exitCode(), null, List.of());
        }
        Session s = new Session(options, pg, etcd, new Timeline(out, start), err);
        Thread hook = new Thread(s::interrupted, "pgha-demo-interrupt");
        Runtime.getRuntime().addShutdownHook(hook);
        int code;
        try {
            s.run();
            code = s.cleanup() ? 0 : DemoException.FAILED;
            if (code == 0) {
                out.printf(Locale.ROOT, "pgha demo: OK (%.1f s)%n", (System.nanoTime() - start) / 1e9);
            }
        } catch (RuntimeException e) {
            code = s.fail(e);
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // the JVM is already shutting down (Ctrl-C): the hook is doing the cleanup
            }
        }
        List<Long> pids;
        synchronized (s.pids) {
            pids = List.copyOf(s.pids);
        }
        return new Result(code, s.workDir, pids);
    }

    /** One run: everything it starts, in the order it starts it, and the cleanup that undoes it. */
    private static final class Session {
        private final DemoOptions o;
        private final Prerequisites.Postgres pg;
        private final Path etcdBinary;
        private final Timeline tl;
        private final PrintStream err;
        private final MemberProcess.Secrets secrets = MemberProcess.Secrets.random();
        // Both are read by the cleanup, which Ctrl-C can start on another thread while the main one adds to them.
        private final List<MemberProcess> members = new java.util.concurrent.CopyOnWriteArrayList<>();
        /** Every PID the demo started or saw (agents, postmasters, etcd), for the leftover check. */
        private final Set<Long> pids = java.util.Collections.synchronizedSet(new LinkedHashSet<>());
        private volatile boolean interrupted;
        private boolean cleanedUp;
        private boolean cleanupOk;

        private Path workDir;
        private ChildProcesses children;
        private DemoStore store;
        private ClusterWatch watch;
        private Writer writer;
        private LogTail tail;

        Session(DemoOptions o, Prerequisites.Postgres pg, Path etcdBinary, Timeline tl, PrintStream err) {
            this.o = o;
            this.pg = pg;
            this.etcdBinary = etcdBinary;
            this.tl = tl;
            this.err = err;
        }

        void run() {
            for (String dir : WorkDir.sweepAbandoned()) {
                tl.line("removed " + dir + ", left by an earlier demo run that was killed");
            }
            try {
                workDir = WorkDir.create();
            } catch (IOException e) {
                throw DemoException.missing("cannot create a work directory in " + WorkDir.PARENT + ": "
                        + e.getMessage());
            }
            tl.line("pgha demo: 3 members on PostgreSQL " + pg.version() + (pg.root() ? " (run as OS user '"
                    + pg.osUser() + "')" : "") + ", store " + o.store().label() + ", ttl " + o.ttl().toSeconds()
                    + " s, synchronous_mode on");
            tl.line("work directory " + workDir + (o.keep() ? " (kept: --keep)" : " (removed at the end)"));
            children = new ChildProcesses();
            startStore();
            tl.event(store.describe());
            startMembers();
            writeAndKill(member(awaitCluster()));
        }

        private void startStore() {
            try {
                store = switch (o.store()) {
                    case ZOOKEEPER -> new DemoStore.ZooKeeper(workDir.resolve("zookeeper"));
                    case ETCD -> new DemoStore.Etcd(children, etcdBinary, workDir.resolve("etcd"));
                    case CONSUL -> new DemoStore.Consul(o.consulUrl());
                };
            } catch (DemoException e) {
                throw e;
            } catch (Exception e) {
                throw DemoException.failed("could not start " + o.store().label() + ": " + Writer.oneLine(e));
            }
            if (store instanceof DemoStore.Etcd etcd) {
                pids.add(etcd.pid());
            }
        }

        private void startMembers() {
            // Absolute entries: each agent runs in its own member directory.
            String classPath = java.util.Arrays.stream(System.getProperty("java.class.path")
                            .split(java.io.File.pathSeparator))
                    .filter(e -> !e.isEmpty()).map(e -> Path.of(e).toAbsolutePath().toString())
                    .collect(Collectors.joining(java.io.File.pathSeparator));
            Set<Integer> ports = new HashSet<>();
            try {
                for (int i = 1; i <= 3; i++) {
                    members.add(new MemberProcess("m" + i, workDir, distinctPort(ports), distinctPort(ports)));
                }
                // Unique per run: a Consul agent outlives the demo, and an old run's keys must not mix in.
                String scope = SCOPE_PREFIX + "-" + workDir.getFileName().toString().substring(WorkDir.PREFIX.length());
                for (MemberProcess m : members) {
                    m.writeConfig(scope, store, o, pg, secrets);
                    m.start(children, System.getProperty("java.home"), classPath);
                    m.agent().ifPresent(p -> pids.add(p.pid()));
                }
            } catch (IOException e) {
                throw DemoException.failed("could not start the members: " + Writer.oneLine(e));
            }
            tl.event("agents " + names(members) + " started (" + members.stream()
                    .map(m -> m.name + " pid " + m.agent().map(Process::pid).orElse(-1L))
                    .collect(Collectors.joining(", ")) + "), each a JVM with its own PostgreSQL"
                    + (children.tiedToJvm() ? "" : "; setpriv not found, so they are not tied to this JVM"));
            if (o.verbose()) {
                tail = new LogTail(members, tl);
            }
            watch = new ClusterWatch(members, tl);
        }

        private static int distinctPort(Set<Integer> used) throws IOException {
            for (int i = 0; i < 20; i++) {
                int p = DemoStore.freePort();
                if (used.add(p)) {
                    return p;
                }
            }
            throw new IOException("no free loopback port");
        }

        /** A leader, both others streaming from it, and one of them listed as synchronous standby; the leader. */
        private String awaitCluster() {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            while (true) {
                checkAgents();
                Optional<String> leader = watch.leader();
                if (leader.isPresent() && watch.syncStandby().isPresent() && members.stream()
                        .filter(m -> !m.name.equals(leader.get())).allMatch(m -> watch.streaming(m.name))) {
                    members.forEach(m -> m.postmasterPid().ifPresent(pids::add));
                    return leader.get();
                }
                if (System.nanoTime() > deadline) {
                    throw DemoException.failed("the cluster did not form within 90 s: " + (leader.isEmpty()
                            ? "no leader" : "leader " + leader.get() + ", but " + (watch.syncStandby().isEmpty()
                                    ? "no synchronous standby" : "not every replica streams")));
                }
                DemoStore.sleep(100);
            }
        }

        private void writeAndKill(MemberProcess leader) {
            try {
                Writer.createTable(leader, secrets.superuser());
            } catch (SQLException e) {
                throw DemoException.failed("could not create the table on " + leader + ": " + Writer.oneLine(e));
            }
            tl.event("writing numbered rows through the leader (found with GET /primary), " + o.rate()
                    + " rows/s, one commit each");
            writer = new Writer(members, secrets.superuser(), o.rate(), tl);
            writer.start();
            sleepWatching(o.writeBefore());

            // Only a listed synchronous standby may be promoted, and it holds every acknowledged commit. Should the
            // listing have lapsed (a standby that fell behind is dropped), killing now would prove nothing.
            long syncDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (watch.syncStandby().isEmpty() || watch.leader().isEmpty()) {
                if (System.nanoTime() > syncDeadline) {
                    throw DemoException.failed("no synchronous standby listed for 15 s before the kill: a failover"
                            + " now could not promise lost 0, so the demo stops here");
                }
                DemoStore.sleep(100);
                checkAgents();
            }
            MemberProcess victim = member(watch.leader().orElseThrow());
            String standby = watch.syncStandby().orElseThrow();
            long killAt = kill(victim, standby);

            long resumeDeadline = killAt + o.ttl().toNanos() + TimeUnit.SECONDS.toNanos(60);
            Optional<Writer.Outage> outage;
            while ((outage = writer.outageAfter(killAt)).isEmpty()) {
                if (System.nanoTime() > resumeDeadline) {
                    throw DemoException.failed("writes were not accepted again within " + Timeline.secs(
                            resumeDeadline - killAt) + " of the kill" + watch.leader().map(l -> " (" + l
                                    + " runs as primary)").orElse(" (no member runs as primary)"));
                }
                DemoStore.sleep(50);
                checkAgents();
            }
            sleepWatching(o.writeAfter());
            writer.close();
            tl.event("writer stopped");
            report(victim, standby, killAt, outage.get());
        }

        /** SIGKILL to the leader's agent, its postmaster and every process under them, at once. */
        private long kill(MemberProcess victim, String standby) {
            Process agent = victim.agent().orElseThrow();
            Optional<Long> postmaster = victim.postmasterPid();
            postmaster.ifPresent(pids::add);
            // Collected first, then killed together: a process whose parent died is re-parented and hard to find.
            List<ProcessHandle> all = new ArrayList<>();
            all.add(agent.toHandle());
            agent.toHandle().descendants().forEach(all::add);
            watch.markKilled(victim.name);
            long at;
            // Holding the timeline, the writer's "writes fail" line cannot come before this one.
            synchronized (tl) {
                all.forEach(ProcessHandle::destroyForcibly);
                // A process forked between collecting and killing is still the agent's or the postmaster's child.
                ChildProcesses.killTree(agent.toHandle());
                postmaster.flatMap(ProcessHandle::of).ifPresent(ChildProcesses::killTree);
                at = tl.now();
                tl.event(at, "kill -9 " + victim.name + ": agent pid " + agent.pid() + postmaster.map(p
                        -> ", postgres pid " + p).orElse(", no postgres running") + " (" + all.size()
                        + " processes in all); " + standby + " is the synchronous standby");
            }
            return at;
        }

        private void report(MemberProcess victim, String standby, long killAt, Writer.Outage outage) {
            String newLeader = outage.resumedVia();
            MemberProcess next = member(newLeader);
            BitSet acked = writer.acknowledgedRows();
            BitSet present;
            try {
                present = Writer.rowsOn(next, secrets.superuser());
            } catch (SQLException e) {
                throw DemoException.failed("could not read the rows back from " + newLeader + ": "
                        + Writer.oneLine(e));
            }
            BitSet lost = (BitSet) acked.clone();
            lost.andNot(present);
            BitSet extra = (BitSet) present.clone();
            extra.andNot(acked);
            Map<String, Integer> via = writer.acknowledgedVia();

            tl.line("");
            tl.line("result");
            // The first sign of the new leader: the watcher's poll, or the writer finding it first.
            long tookOver = Math.min(watch.becameLeaderAt(newLeader).orElse(Long.MAX_VALUE), outage.resumedAt());
            tl.line(String.format(Locale.ROOT, "  leader %s killed at %.2fs; %s took over at %.2fs, %.1f s later"
                    + " (ttl %d s: the dead leader's lock has to expire first)", victim.name, tl.seconds(killAt),
                    newLeader, tl.seconds(tookOver), (tookOver - killAt) / 1e9, o.ttl().toSeconds()));
            tl.line(String.format(Locale.ROOT, "  writes refused for %.1f s: last acknowledged write at %.2fs"
                    + " (row %d via %s), next at %.2fs (row %d via %s); %d attempts refused in between",
                    (outage.resumedAt() - outage.lastAckAt()) / 1e9, tl.seconds(outage.lastAckAt()),
                    outage.lastAckRow(), victim.name, tl.seconds(outage.resumedAt()), outage.resumedRow(), newLeader,
                    outage.failedAttempts()));
            if (!newLeader.equals(standby)) {
                tl.line("  NOTE: " + newLeader + " was promoted, but " + standby + " was the synchronous standby");
            }
            tl.line(String.format(Locale.ROOT, "  rows acknowledged %d, rows on the new leader %d, lost %d",
                    acked.cardinality(), present.cardinality(), lost.cardinality()));
            tl.line("  (acknowledged: " + via.entrySet().stream().map(e -> e.getValue() + " through " + e.getKey())
                    .collect(Collectors.joining(", ")) + ")");
            List<Long> unanswered = writer.unansweredRows();
            long unansweredPresent = unanswered.stream().filter(r -> present.get(r.intValue())).count();
            if (!unanswered.isEmpty()) {
                boolean one = unanswered.size() == 1;
                tl.line("  " + unanswered.size() + (one ? " write" : " writes") + " got no answer (row"
                        + (one ? " " : "s ") + unanswered.stream().limit(5).map(String::valueOf)
                                .collect(Collectors.joining(", ")) + (unanswered.size() > 5 ? ", ..." : "")
                        + "): never acknowledged, so either outcome is correct; "
                        + (one ? (unansweredPresent == 1 ? "it is" : "it is not") + " on the new leader"
                                : unansweredPresent + " of them are on the new leader"));
            }
            if (extra.cardinality() > unansweredPresent) {
                tl.line("  NOTE: the new leader has " + (extra.cardinality() - unansweredPresent)
                        + " row(s) the writer never sent");
            }
            replicaCheck(victim, next, present.cardinality());
            if (!lost.isEmpty()) {
                throw DemoException.failed("LOST " + lost.cardinality() + " acknowledged row(s), e.g. row "
                        + lost.nextSetBit(0));
            }
            if (watch.failure().isPresent()) {
                throw DemoException.failed(watch.failure().get());
            }
        }

        /** The third member should follow the new leader; reported, not required (it may still be catching up). */
        private void replicaCheck(MemberProcess victim, MemberProcess leader, int rows) {
            for (MemberProcess m : members) {
                if (m == victim || m == leader) {
                    continue;
                }
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                int seen = -1;
                while (System.nanoTime() < deadline) {
                    try {
                        seen = Writer.rowsOn(m, secrets.superuser()).cardinality();
                    } catch (SQLException e) {
                        seen = -1;
                    }
                    if (seen == rows && watch.streaming(m.name)) {
                        break;
                    }
                    DemoStore.sleep(200);
                }
                tl.line(seen == rows && watch.streaming(m.name)
                        ? "  " + m.name + " streams from " + leader.name + " and has the same " + rows + " rows"
                        : "  " + m.name + " has " + Math.max(seen, 0) + " of " + rows + " rows and is "
                                + (watch.streaming(m.name) ? "" : "not yet ") + "streaming from " + leader.name
                                + " (waited 10 s)");
            }
        }

        /** Sleeps {@code d}, failing at once if an agent dies on its own. */
        private void sleepWatching(Duration d) {
            long until = System.nanoTime() + d.toNanos();
            while (System.nanoTime() < until) {
                checkAgents();
                DemoStore.sleep(Math.min(100, Math.max(1, TimeUnit.NANOSECONDS.toMillis(until - System.nanoTime()))));
            }
        }

        private void checkAgents() {
            if (interrupted) {
                throw DemoException.failed("interrupted");
            }
            watch.failure().ifPresent(f -> {
                throw DemoException.failed(f);
            });
        }

        private MemberProcess member(String name) {
            return members.stream().filter(m -> m.name.equals(name)).findFirst().orElseThrow();
        }

        private static String names(List<MemberProcess> ms) {
            return ms.stream().map(m -> m.name).collect(Collectors.joining(" "));
        }

        /** Reports a failure in one line (after cleaning up) and returns the exit status. */
        int fail(RuntimeException e) {
            if (interrupted) {
                cleanup();
                return 130;
            }
            boolean started = workDir != null;
            cleanup();
            if (e instanceof DemoException d) {
                err.println("pgha demo: " + (d.exitCode() == DemoException.FAILED ? "failed: " : "") + d.getMessage()
                        + (started && !o.keep() && d.exitCode() == DemoException.FAILED
                                ? " (--keep keeps the agents' logs)" : ""));
                return d.exitCode();
            }
            err.println("pgha demo: failed: unexpected " + e.getClass().getSimpleName() + ": " + Writer.oneLine(e)
                    + (o.verbose() ? "" : " (--verbose shows the stack trace)"));
            if (o.verbose()) {
                e.printStackTrace(err);
            }
            return DemoException.FAILED;
        }

        /** Ctrl-C (or SIGTERM): the shutdown hook stops everything while the main thread gives up. */
        void interrupted() {
            interrupted = true;
            synchronized (this) {
                if (cleanedUp) {
                    return;
                }
            }
            err.println("pgha demo: interrupted; stopping the members" + (workDir == null || o.keep() ? ""
                    : " and removing " + workDir));
            cleanup();
        }

        /**
         * Stops everything the run started, by PID, and removes the work directory; runs once (the main thread or
         * the shutdown hook, whichever comes first; the other waits for it). Every step is bounded. Returns whether
         * nothing was left behind.
         */
        synchronized boolean cleanup() {
            if (cleanedUp) {
                return cleanupOk;
            }
            cleanedUp = true;
            long started = System.nanoTime();
            List<String> done = new ArrayList<>();
            if (watch != null) {
                watch.close();
            }
            if (writer != null) {
                writer.close();
            }
            // Agents first, with SIGTERM: each stops its PostgreSQL (fast) and leaves the DCS.
            List<ProcessHandle> agents = new ArrayList<>();
            for (MemberProcess m : members) {
                m.agent().filter(Process::isAlive).ifPresent(p -> {
                    m.postmasterPid().ifPresent(pids::add);
                    p.destroy();
                    agents.add(p.toHandle());
                });
            }
            if (!agents.isEmpty()) {
                boolean clean = ChildProcesses.awaitExit(agents, 20_000);
                agents.stream().filter(ProcessHandle::isAlive).forEach(ChildProcesses::killTree);
                done.add("stopped " + agents.size() + " agent" + (agents.size() == 1 ? "" : "s")
                        + (clean ? "" : " (some needed SIGKILL)"));
            }
            // A postmaster stops with its agent (the agent's close, or the pdeathsig tie); give it a moment first.
            int postmasters = 0;
            for (MemberProcess m : members) {
                Optional<ProcessHandle> pm = m.postmasterPid()
                        .filter(pid -> ChildProcesses.cmdline(pid).filter(c -> c.contains(m.nodeDir.toString()))
                                .isPresent())
                        .flatMap(ProcessHandle::of);
                if (pm.isPresent() && !ChildProcesses.awaitExit(List.of(pm.get()), 5_000)) {
                    ChildProcesses.killTree(pm.get());
                    postmasters++;
                }
            }
            if (postmasters > 0) {
                done.add("killed " + postmasters + " postgres left running");
            }
            if (tail != null) {
                tail.close();
            }
            if (store != null) {
                store.close();
                if (o.store() != DemoOptions.Store.CONSUL) {
                    done.add("stopped " + o.store().label());
                }
            }
            if (children != null) {
                children.close();
            }
            boolean ok = true;
            if (workDir != null) {
                // The safety net: anything still running with the work directory on its command line.
                List<ProcessHandle> left = ChildProcesses.mentioning(workDir.toString());
                if (!left.isEmpty()) {
                    left.forEach(ChildProcesses::killTree);
                    ChildProcesses.awaitExit(left, 5_000);
                    done.add("killed " + left.size() + " leftover process" + (left.size() == 1 ? "" : "es"));
                }
                List<ProcessHandle> still = ChildProcesses.mentioning(workDir.toString());
                if (!still.isEmpty()) {
                    ok = false;
                    err.println("pgha demo: could not stop " + still.stream().map(p -> Long.toString(p.pid()))
                            .collect(Collectors.joining(", ")));
                }
                if (o.keep()) {
                    done.add("kept " + workDir);
                } else {
                    try {
                        WorkDir.delete(workDir);
                        done.add("removed " + workDir);
                    } catch (IOException e) {
                        ok = false;
                        err.println("pgha demo: could not remove " + workDir + ": " + Writer.oneLine(e));
                    }
                }
            }
            long alive;
            synchronized (pids) {
                alive = pids.stream().filter(p -> ProcessHandle.of(p).map(ProcessHandle::isAlive).orElse(false))
                        .count();
            }
            if (alive > 0) {
                ok = false;
                err.println("pgha demo: " + alive + " started process(es) still alive");
            }
            if (!done.isEmpty()) {
                tl.line(String.format(Locale.ROOT, "cleanup: %s (%.1f s)", String.join(", ", done),
                        (System.nanoTime() - started) / 1e9));
            }
            cleanupOk = ok;
            return ok;
        }
    }
}
