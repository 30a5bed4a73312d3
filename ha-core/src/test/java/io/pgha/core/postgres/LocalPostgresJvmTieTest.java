package io.pgha.core.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.PostgresSettings;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The postmaster lives as long as the JVM, not as long as the thread that asked for the start (decision 0103). */
@Tag("postgres")
class LocalPostgresJvmTieTest {

    private PgTestEnv env;

    @BeforeEach
    void setUp() throws Exception {
        env = new PgTestEnv();
    }

    @AfterEach
    void tearDown() {
        env.close();
    }

    @Test
    void aServerStartedFromAShortLivedThreadOutlivesThatThread() throws Exception {
        LocalPostgres a = env.node("a");
        Thread t = new Thread(() -> {
            try {
                a.bootstrap();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        t.start();
        t.join(TimeUnit.MINUTES.toMillis(2));
        assertThat(t.isAlive()).isFalse();
        long pid = a.postmasterPid().orElseThrow();

        await("the server keeps answering after its starter thread ended").during(Duration.ofSeconds(1))
                .atMost(Duration.ofSeconds(5)).until(() -> a.probe().isRunningPrimary());
        assertThat(a.postmasterPid()).contains(pid);
    }

    @Test
    void theServerShutsDownCleanlyWhenItsJvmIsKilled() throws Exception {
        Path dir = env.base.resolve("child");
        int port = PgTestEnv.freePort();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                JvmDeathChild.class.getName(), PgTestEnv.binDir().toString(), dir.resolve("data").toString(),
                dir.resolve("node").toString(), String.valueOf(port), PgTestEnv.SUPERUSER_PASSWORD)
                .redirectErrorStream(true).start();
        long pid;
        try (BufferedReader out = new BufferedReader(
                new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            StringBuilder seen = new StringBuilder();
            pid = -1;
            while ((line = out.readLine()) != null) {
                seen.append(line).append('\n');
                if (line.startsWith("PID ")) {
                    pid = Long.parseLong(line.substring(4).strip());
                    break;
                }
            }
            assertThat(pid).as("child output:\n%s", seen).isPositive();
            assertThat(ProcessHandle.of(pid)).isPresent();

            child.destroyForcibly();
            assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
        } finally {
            child.destroyForcibly();
        }
        long postmaster = pid;
        await("the orphaned postmaster stops").atMost(Duration.ofSeconds(60))
                .until(() -> ProcessHandle.of(postmaster).map(h -> !h.isAlive()).orElse(true));

        LocalPostgres observer = env.track(new LocalPostgres(PostgresSettings.builder().memberName("child")
                .binDir(PgTestEnv.binDir()).dataDir(dir.resolve("data")).nodeDir(dir.resolve("node"))
                .listen("127.0.0.1", port).superuser("postgres", PgTestEnv.SUPERUSER_PASSWORD)
                .replication("replicator", PgTestEnv.SUPERUSER_PASSWORD).build()));
        PgState s = observer.probe();
        assertThat(s.run()).as(s.detail()).isEqualTo(PgState.Run.STOPPED);
        assertThat(s.role()).isEqualTo(Role.PRIMARY);
    }
}
