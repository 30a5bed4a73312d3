package io.pgha.core.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** How a member's server parameters come from pgha's defaults, the cluster config and its own settings (pure). */
class ServerParametersTest {

    private static PostgresSettings local(Map<String, String> parameters) {
        return PostgresSettings.builder().memberName("m1").binDir(Path.of("/usr/lib/postgresql/15/bin")).dataDir(Path.of("/tmp/d"))
                .nodeDir(Path.of("/tmp/n")).superuser("postgres", "pw").replication("replicator", "pw")
                .parameters(parameters).build();
    }

    @Test
    void clusterParametersOverrideTheDefaultsAndLocalOnesOverrideThem() {
        ServerParameters p = ServerParameters.of(local(Map.of("work_mem", "16MB")),
                Map.of("work_mem", "8MB", "shared_buffers", "256MB", "max_wal_senders", "12"));

        assertThat(p.parameters()).containsEntry("work_mem", "16MB").containsEntry("shared_buffers", "256MB")
                .containsEntry("max_wal_senders", "12").containsEntry("wal_log_hints", "on");
        assertThat(p.warnings()).isEmpty();
    }

    @Test
    void mustMatchParametersComeFromTheClusterConfigWithAWarningWhenALocalValueDiffers() {
        ServerParameters p = ServerParameters.of(local(Map.of("max_connections", "50", "wal_level", "logical",
                "max_prepared_transactions", "0")), Map.of("max_connections", "100", "max_prepared_transactions", "0"));

        assertThat(p.parameters()).containsEntry("max_connections", "100")
                .as("not set cluster-wide: the local value").containsEntry("wal_level", "logical");
        assertThat(p.warnings()).containsExactly("postgresql.parameters.max_connections = 50 of this member is"
                + " overridden by the cluster config's 100 (it must be the same on every member)");
    }

    @Test
    void parametersPghaWritesItselfOrThatCannotBeWrittenAreRefusedFromTheClusterConfig() {
        ServerParameters p = ServerParameters.of(local(Map.of()),
                Map.of("port", "6543", "Bad Name", "1", "log_line_prefix", "a\nport = 1", "work_mem", "8MB"));

        assertThat(p.parameters()).doesNotContainKey("port").doesNotContainKey("bad name")
                .containsEntry("log_line_prefix", "%m [%p] ").containsEntry("work_mem", "8MB");
        assertThat(p.warnings()).hasSize(3).anyMatch(w -> w.contains("parameters.port") && w.contains("pgha sets it"))
                .anyMatch(w -> w.contains("line break"));
    }
}
