package io.pgha.examples.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.OptionalInt;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The standalone agent as a process: when its member closes itself, the process must not live on. */
class AgentStopsOnItsOwnTest {

    @Test
    @Timeout(120)
    void anAgentWhoseHaLoopCannotStartExitsWithStatus1() throws Exception {
        Path base = Path.of("/tmp", "pgha-e2e-" + UUID.randomUUID().toString().substring(0, 8));
        Files.createDirectories(base);
        Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
        // Valid for the builder (3 s + 2*2 s <= ttl 12 s), but more than the 6 s Consul guarantees (ttl/2): the HA
        // loop refuses to start once the session is open, and the member closes itself.
        StoreUnderTest.Timings tooSlow = new StoreUnderTest.Timings(Duration.ofSeconds(12), Duration.ofSeconds(3),
                Duration.ofSeconds(2));
        try (E2eCluster cluster = E2eCluster.create(new ConsulStore(), base, "e2e-exit", 1, tooSlow)) {
            AgentProcess agent = cluster.members.get(0);
            agent.start();

            OptionalInt status = agent.awaitExit(Duration.ofSeconds(60));

            assertThat(status).as("exit status of the agent (empty: still running)").hasValue(1);
            assertThat(agent.logSince(0)).contains("the HA loop cannot start")
                    .contains("the member closed itself").doesNotContain("bootstrapped");
            assertThat(agent.postmasterPid()).isEmpty();
        }
    }
}
