package io.pgha.examples.agent;

import io.pgha.core.api.HaCluster;
import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.Role;
import java.io.File;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Patroni's {@code postgresql.callbacks} for the standalone agent: {@code <command> <action> <role> <scope>} run when
 * PostgreSQL starts ({@code on_start}) or stops ({@code on_stop}), when this member's role changes between primary
 * and replica ({@code on_role_change}: a promotion, a demotion), after the operator's restart ({@code on_restart};
 * as in Patroni its stop and start fire nothing else) and after a reload ({@code on_reload}: the operator's, or
 * changed cluster-wide parameters). As in Patroni the scripts run in the background, one at a time: a new event kills
 * a script still running from the last one, so a slow script never holds up the HA loop or sees its events out of
 * order. Driven by the member's own status, role-change and PostgreSQL-event listeners. A reload swaps the command
 * lines ({@link #useCommands}), as Patroni's reload re-reads its callbacks: the next event runs the new ones.
 */
final class CallbackScripts implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(CallbackScripts.class);

    /** Patroni's callback names that this agent runs. */
    enum Event {
        ON_START("on_start"), ON_STOP("on_stop"), ON_ROLE_CHANGE("on_role_change"), ON_RESTART("on_restart"),
        ON_RELOAD("on_reload");

        final String key;

        Event(String key) {
            this.key = key;
        }
    }

    /** Replaced whole by a reload, read once per event: an event sees either the old set or the new one. */
    private volatile Map<Event, List<String>> commands;
    private final String scope;
    private final ExecutorService runner;
    private Process running;
    private Boolean wasRunning;
    private boolean restarting;

    CallbackScripts(Map<Event, List<String>> commands, String scope) {
        this.commands = copy(commands);
        this.scope = scope;
        this.runner = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "pgha-callbacks");
            t.setDaemon(true);
            return t;
        });
    }

    boolean isEmpty() {
        return commands.isEmpty();
    }

    /** The command lines a reload read: events from now on run these. */
    void useCommands(Map<Event, List<String>> next) {
        commands = copy(next);
    }

    /** The command lines in force, for the reload's log. */
    Map<Event, List<String>> commands() {
        return commands;
    }

    private static Map<Event, List<String>> copy(Map<Event, List<String>> m) {
        Map<Event, List<String>> out = new EnumMap<>(Event.class);
        m.forEach((e, argv) -> out.put(e, List.copyOf(argv)));
        return java.util.Collections.unmodifiableMap(out);
    }

    /** From the member's published status: PostgreSQL started or stopped since the last one. */
    synchronized void statusPublished(NodeStatus s) {
        // PostgreSQL's own state, not NodeStatus.running(): that is false while any long action is in flight, so the
        // restart's first status would read as a stop before its RESTARTING event arrives from the action thread.
        boolean now = s.pg().run() == PgState.Run.RUNNING;
        Boolean before = wasRunning;
        wasRunning = now;
        if (before == null || before == now || restarting) {
            return;
        }
        fire(now ? Event.ON_START : Event.ON_STOP, s.pg().role());
    }

    /** The operator's restart (its stop and start are not on_stop and on_start) and reloads. */
    synchronized void postgresEvent(HaCluster.PostgresEvent e) {
        switch (e.kind()) {
            case RESTARTING -> restarting = true;
            case RESTARTED -> {
                restarting = false;
                wasRunning = true;
                fire(Event.ON_RESTART, e.role());
            }
            case RESTART_FAILED -> restarting = false;
            case RELOADED -> fire(Event.ON_RELOAD, e.role());
        }
    }

    /** A promotion (replica to primary) or a demotion (primary to replica). */
    void roleChanged(Role old, Role now) {
        boolean between = (old == Role.PRIMARY || old == Role.REPLICA) && (now == Role.PRIMARY || now == Role.REPLICA);
        if (between && old != now) {
            fire(Event.ON_ROLE_CHANGE, now);
        }
    }

    private void fire(Event e, Role role) {
        List<String> command = commands.get(e);
        if (command == null) {
            return;
        }
        List<String> argv = new ArrayList<>(command);
        argv.add(e.key);
        argv.add(role == Role.PRIMARY || role == Role.REPLICA ? role.json() : Role.REPLICA.json());
        argv.add(scope);
        runner.execute(() -> run(argv));
    }

    private void run(List<String> argv) {
        synchronized (this) {
            if (running != null && running.isAlive()) {
                LOG.warn("callback {} still runs: killing it for {}", running.info().commandLine().orElse("?"),
                        argv);
                running.destroyForcibly();
            }
        }
        try {
            Process p = new ProcessBuilder(argv).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectInput(new File("/dev/null")).start();
            synchronized (this) {
                running = p;
            }
            LOG.info("callback started: {}", argv);
        } catch (java.io.IOException e) {
            LOG.warn("callback {} could not start: {}", argv, e.getMessage());
        }
    }

    @Override
    public void close() {
        runner.shutdown();
        try {
            runner.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
