package io.pgha.examples.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.pgha.core.api.HaCluster;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.HaSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 12: Patroni's postgresql.callbacks run by the standalone agent (a real script; the member's events faked). */
class CallbackScriptsTest {

    @TempDir
    Path dir;

    private static NodeStatus status(PgState.Run run, Role role) {
        return status(run, role, null);
    }

    private static NodeStatus status(PgState.Run run, Role role, io.pgha.core.cluster.LongAction busy) {
        PgState pg = new PgState(PgState.DataDir.VALID, run, role, "1", 1, Lsn.of(1), null, null, null, false,
                List.of(), "", false, "");
        return new NodeStatus(HaSettings.builder("orders", "db-1").build(), role, pg, busy, null, true, null, false,
                false, "", Duration.ZERO, Instant.now());
    }

    /** A real script that appends its arguments to {@code out}: the command line to configure. */
    private List<String> recordingScript(Path out) throws Exception {
        Path script = dir.resolve("cb.sh");
        Files.writeString(script, "#!/bin/sh\necho \"$@\" >> " + out + "\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
        return List.of(script.toString());
    }

    private List<String> lines(Path out) throws Exception {
        return Files.exists(out) ? Files.readAllLines(out) : List.of();
    }

    @Test
    void startStopAndRoleChangesRunTheScriptWithActionRoleAndScope() throws Exception {
        Path out = dir.resolve("calls.txt");
        List<String> cmd = recordingScript(out);
        try (CallbackScripts s = new CallbackScripts(Map.of(CallbackScripts.Event.ON_START, cmd,
                CallbackScripts.Event.ON_STOP, cmd, CallbackScripts.Event.ON_ROLE_CHANGE, cmd), "orders")) {
            s.statusPublished(status(PgState.Run.STOPPED, Role.REPLICA)); // the first status only sets the baseline
            s.statusPublished(status(PgState.Run.RUNNING, Role.REPLICA));
            await().atMost(Duration.ofSeconds(20)).until(() -> lines(out).size() == 1);
            s.statusPublished(status(PgState.Run.RUNNING, Role.REPLICA)); // no change, nothing run
            s.roleChanged(Role.STARTING, Role.REPLICA); // not between primary and replica
            s.roleChanged(Role.REPLICA, Role.PRIMARY);
            await().atMost(Duration.ofSeconds(20)).until(() -> lines(out).size() == 2);
            s.statusPublished(status(PgState.Run.STOPPED, Role.PRIMARY));
            await().atMost(Duration.ofSeconds(20)).until(() -> lines(out).size() == 3);
            Thread.sleep(300);
        }
        assertThat(lines(out)).containsExactly("on_start replica orders", "on_role_change primary orders",
                "on_stop primary orders");
    }

    @Test
    void anOperatorRestartRunsOnRestartOnlyAndAReloadRunsOnReload() throws Exception {
        Path out = dir.resolve("calls.txt");
        List<String> cmd = recordingScript(out);
        Map<CallbackScripts.Event, List<String>> all = new java.util.EnumMap<>(CallbackScripts.Event.class);
        for (CallbackScripts.Event e : CallbackScripts.Event.values()) {
            all.put(e, cmd);
        }
        try (CallbackScripts s = new CallbackScripts(all, "orders")) {
            s.statusPublished(status(PgState.Run.RUNNING, Role.PRIMARY));
            // The loop publishes the restart as busy before the action thread reports RESTARTING (seen end to end).
            s.statusPublished(status(PgState.Run.RUNNING, Role.PRIMARY, io.pgha.core.cluster.LongAction.RESTART));
            s.postgresEvent(event(HaCluster.PostgresEvent.Kind.RESTARTING));
            s.statusPublished(status(PgState.Run.STOPPED, Role.PRIMARY)); // the restart's own stop: not on_stop
            s.postgresEvent(event(HaCluster.PostgresEvent.Kind.RESTARTED));
            s.statusPublished(status(PgState.Run.RUNNING, Role.PRIMARY)); // nor its start
            await().atMost(Duration.ofSeconds(20)).until(() -> lines(out).size() == 1);
            s.postgresEvent(event(HaCluster.PostgresEvent.Kind.RELOADED));
            await().atMost(Duration.ofSeconds(20)).until(() -> lines(out).size() == 2);
            // A restart that fails: what happens next is reported as usual.
            s.postgresEvent(event(HaCluster.PostgresEvent.Kind.RESTARTING));
            s.statusPublished(status(PgState.Run.STOPPED, Role.PRIMARY));
            s.postgresEvent(event(HaCluster.PostgresEvent.Kind.RESTART_FAILED));
            s.statusPublished(status(PgState.Run.RUNNING, Role.PRIMARY));
            await().atMost(Duration.ofSeconds(20)).until(() -> lines(out).size() == 3);
            Thread.sleep(300);
        }
        assertThat(lines(out)).containsExactly("on_restart primary orders", "on_reload primary orders",
                "on_start primary orders");
    }

    private static HaCluster.PostgresEvent event(HaCluster.PostgresEvent.Kind kind) {
        return new HaCluster.PostgresEvent(kind, Role.PRIMARY, Instant.now());
    }

    /**
     * Issue 12: a reload re-reads the callbacks, as Patroni's does: the reload's own on_reload already runs the new
     * script; a file that does not parse, or a callback that is no command, fails the reload and the running scripts
     * stay.
     */
    @Test
    void aReloadTakesTheCallbacksOfTheFileAsItIsNow() throws Exception {
        Path oldOut = dir.resolve("old.txt");
        Path newOut = dir.resolve("new.txt");
        List<String> oldCmd = recordingScript(oldOut);
        Path newScript = dir.resolve("cb-new.sh");
        Files.writeString(newScript, "#!/bin/sh\necho \"$@\" >> " + newOut + "\n");
        Files.setPosixFilePermissions(newScript, PosixFilePermissions.fromString("rwx------"));
        Path file = dir.resolve("member.yaml");
        Files.writeString(file, withCallbacks("    on_reload: " + oldCmd.get(0) + "\n"));
        try (CallbackScripts s = new CallbackScripts(Map.of(CallbackScripts.Event.ON_RELOAD, oldCmd), "orders")) {
            YamlReload reload = new YamlReload(file, Map.of(), AgentConfig.read(file, Map.of()), s);
            s.postgresEvent(event(HaCluster.PostgresEvent.Kind.RELOADED));
            await().atMost(Duration.ofSeconds(20)).until(() -> lines(oldOut).size() == 1);

            Files.writeString(file, withCallbacks("    on_reload: " + newScript + "\n    on_start: /bin/true\n"));
            reload.get();
            assertThat(s.commands()).containsOnlyKeys(CallbackScripts.Event.ON_RELOAD, CallbackScripts.Event.ON_START);
            s.postgresEvent(event(HaCluster.PostgresEvent.Kind.RELOADED));
            await().atMost(Duration.ofSeconds(20)).until(() -> lines(newOut).size() == 1);

            Map<CallbackScripts.Event, List<String>> inForce = s.commands();
            Files.writeString(file, "scope: [unclosed");
            assertThatThrownBy(reload::get).hasMessageContaining("not valid YAML");
            Files.writeString(file, withCallbacks("    on_reload: \"  \"\n"));
            assertThatThrownBy(reload::get).hasMessageContaining("postgresql.callbacks.on_reload");
            assertThat(s.commands()).as("after two failed reloads").isEqualTo(inForce);
            s.postgresEvent(event(HaCluster.PostgresEvent.Kind.RELOADED));
            await().atMost(Duration.ofSeconds(20)).until(() -> lines(newOut).size() == 2);

            Files.writeString(file, AgentConfigTest.MEMBER);
            reload.get();
            assertThat(s.commands()).as("callbacks removed from the file").isEmpty();
            s.postgresEvent(event(HaCluster.PostgresEvent.Kind.RELOADED));
            Thread.sleep(500);
        }
        assertThat(lines(oldOut)).containsExactly("on_reload primary orders");
        assertThat(lines(newOut)).containsExactly("on_reload primary orders", "on_reload primary orders");
    }

    private static String withCallbacks(String lines) {
        return AgentConfigTest.MEMBER.replace("  parameters: {shared_buffers: 32MB}\n",
                "  parameters: {shared_buffers: 32MB}\n  callbacks:\n" + lines);
    }

    @Test
    void theAgentReadsEveryOneOfPatronisCallbacks() throws Exception {
        @SuppressWarnings("unchecked")
        Map<String, Object> doc = new ObjectMapper(new YAMLFactory()).readValue(AgentConfigTest.MEMBER.replace(
                "  parameters: {shared_buffers: 32MB}\n", "  parameters: {shared_buffers: 32MB}\n  callbacks:\n"
                        + "    on_role_change: /usr/local/bin/vip.sh --iface eth0\n    on_reload: /bin/true\n"
                        + "    on_restart: /bin/true\n"),
                Map.class);
        AgentConfig c = AgentConfig.parse(doc);
        assertThat(c.warnings()).as("on_restart and on_reload are run, not warned about").isEmpty();
    }
}
