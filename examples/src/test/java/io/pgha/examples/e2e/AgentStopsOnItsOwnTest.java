package io.pgha.examples.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.testkit.TestFiles;
import java.nio.file.Path;
import java.time.Duration;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The standalone agent as a process: when its member closes itself, the process must not live on. */
class AgentStopsOnItsOwnTest {

    @Test
    @Timeout(120)
    void anAgentWhoseHaLoopCannotStartExitsWithStatus1() throws Exception {
        Path base = TestFiles.shortTempDir("pgha-e2e");
        // Valid for the builder (3 s + 2*2 s <= ttl 12 s), but more than the 6 s Consul guarantees (ttl/2): the HA
        // loop refuses to start, start() fails with the rule (decision 0014) and the agent exits.
        StoreUnderTest.Timings tooSlow = new StoreUnderTest.Timings(Duration.ofSeconds(12), Duration.ofSeconds(3),
                Duration.ofSeconds(2));
        try (E2eCluster cluster = E2eCluster.create(new ConsulStore(), base, "e2e-exit", 1, tooSlow)) {
            AgentProcess agent = cluster.members.get(0);
            agent.start();

            OptionalInt status = agent.awaitExit(Duration.ofSeconds(60));

            assertThat(status).as("exit status of the agent (empty: still running)").hasValue(1);
            assertThat(agent.logSince(0)).contains("the HA loop cannot start")
                    .contains("loopWait + 2*retryTimeout must be <= the DCS lease guarantee")
                    .doesNotContain("bootstrapped");
            assertThat(agent.postmasterPid()).isEmpty();
        }
    }
}
