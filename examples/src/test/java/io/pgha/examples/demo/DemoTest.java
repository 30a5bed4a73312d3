package io.pgha.examples.demo;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * Runs the README's demo end to end (ZooKeeper in this JVM, three agent JVMs on real PostgreSQL, kill -9 of the
 * leader), shortened to 3 s of writes before the kill and 2 s after; about 35 s. Then checks what it promises: exit
 * 0, lost 0, no process and no directory left behind. The other cases check that a wrong or missing piece is one
 * line, not a stack trace.
 */
class DemoTest {

    private record Run(Demo.Result result, String out, String err) {}

    private static Run run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Demo.Result r = Demo.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(r, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void theLeaderIsKilledAndNoAcknowledgedRowIsLostAndNothingIsLeftBehind() {
        // --verbose puts the agents' logs into the output, which is shown only when an assertion fails.
        Run run = run("--write-before", "3", "--write-after", "2", "--verbose");
        String shown = "demo output:\n" + run.out() + run.err();

        assertThat(run.result().exitCode()).as(shown).isZero();
        assertThat(run.err()).as(shown).isEmpty();
        assertThat(run.out()).as(shown)
                .contains("zookeeper up")
                .contains("leads (bootstrapped a new cluster)")
                .contains("is the synchronous standby")
                .contains("kill -9 ")
                .contains("promoted (timeline 2)")
                .contains("writes accepted again")
                .containsPattern("rows acknowledged [1-9][0-9]*, rows on the new leader [1-9][0-9]*, lost 0\n")
                .contains("pgha demo: OK");
        assertThat(run.result().workDir()).isNotNull().doesNotExist();
        assertThat(run.result().pids()).hasSizeGreaterThanOrEqualTo(6) // 3 agents, 3 postmasters
                .allSatisfy(pid -> assertThat(ProcessHandle.of(pid).filter(ProcessHandle::isAlive)).as("pid " + pid)
                        .isEmpty());
        assertThat(ChildProcesses.mentioning(run.result().workDir().toString())).isEmpty();
    }

    @Test
    void aBadOptionIsOneLine() {
        Run run = run("--store", "mongo");
        assertThat(run.result().exitCode()).isEqualTo(2);
        assertThat(run.err()).isEqualTo("pgha demo: --store: expected zookeeper, etcd or consul, got 'mongo'"
                + " (--help lists the options)\n");
        assertThat(run.out()).isEmpty();
    }

    @Test
    void missingPostgresBinariesAreOneLineSayingWhatToDo() {
        Run run = run("--pg-bin", "/nonexistent/bin");
        assertThat(run.result().exitCode()).isEqualTo(3);
        assertThat(run.err()).startsWith("pgha demo: ").contains("/nonexistent/bin").doesNotContain("Exception")
                .hasLineCount(1);
    }

    @Test
    void consulWithoutAnAgentIsOneLineSayingWhatToPass() {
        Run run = run("--store", "consul");
        assertThat(run.result().exitCode()).isEqualTo(3);
        assertThat(run.err()).contains("--consul-url").hasLineCount(1);
    }

    @Test
    void helpListsTheOptions() {
        Run run = run("--help");
        assertThat(run.result().exitCode()).isZero();
        assertThat(run.out()).contains("--store zookeeper|etcd|consul").contains("--keep");
    }

}
