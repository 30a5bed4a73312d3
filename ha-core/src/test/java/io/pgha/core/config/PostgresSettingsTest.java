package io.pgha.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class PostgresSettingsTest {

    private static PostgresSettings.Builder valid() {
        return PostgresSettings.builder().memberName("db-1").binDir(Path.of("/usr/lib/postgresql/15/bin"))
                .dataDir(Path.of("/tmp/x/data")).nodeDir(Path.of("/tmp/x/node")).listen("10.0.0.1", 5432)
                .superuser("postgres", "s3cret-su").replication("replicator", "s3cret-repl");
    }

    @Test
    void defaultsAreSafeAndDerived() {
        PostgresSettings s = valid().build();
        assertThat(s.connectAddress()).isEqualTo(new HostPort("10.0.0.1", 5432));
        assertThat(s.socketDir()).isEqualTo(Path.of("/tmp/x/node/sock"));
        assertThat(s.rewindUser()).isEqualTo("postgres");
        assertThat(s.rewindPassword()).isEqualTo("s3cret-su");
        assertThat(s.hasSeparateRewindUser()).isFalse();
        assertThat(s.allowReclone()).isFalse();
        assertThat(s.usePgRewind()).isTrue();
        assertThat(s.runAsUser()).isEqualTo("postgres");
        assertThat(s.startTimeout()).isEqualTo(Duration.ofSeconds(60));
        assertThat(s.effectiveParameters()).containsEntry("wal_level", "replica").containsEntry("wal_log_hints", "on")
                .containsEntry("password_encryption", "scram-sha-256");
        assertThat(valid().parameter("wal_keep_size", "1GB").build().effectiveParameters())
                .containsEntry("wal_keep_size", "1GB");
        assertThat(s.localConnectHost()).isEqualTo("10.0.0.1");
        assertThat(valid().listen("*", 5432).connectAddress("db-1", 5432).build().localConnectHost())
                .isEqualTo("127.0.0.1");
        assertThat(PostgresSettings.slotNameFor("DB-1.east")).isEqualTo("db_1_east");
    }

    @Test
    void toStringNeverShowsPasswords() {
        String text = valid().rewind("rewinder", "s3cret-rw").build().toString();
        assertThat(text).doesNotContain("s3cret").contains("****").contains("db-1");
    }

    @Test
    void brokenValuesAreRejectedNamingTheSetting() {
        assertRejected(valid().memberName(null), "memberName");
        assertRejected(valid().binDir(null), "binDir is required");
        assertRejected(valid().nodeDir(Path.of("/tmp/x/data/node")), "nodeDir (/tmp/x/data/node) must be outside dataDir");
        assertRejected(valid().nodeDir(Path.of("/tmp/" + "d".repeat(100))), "more than the 107 Linux allows");
        assertRejected(valid().listen("*", 5432), "connectAddress is required when listenHost is '*'");
        assertRejected(valid().listen("10.0.0.1", 0), "listenPort must be 1..65535");
        assertRejected(valid().superuser("postgres", ""), "superuser password is required");
        assertRejected(valid().replication("replicator", null), "replication password is required");
        assertRejected(valid().replication("bad name", "x"), "replication user must be a plain role name");
        assertRejected(valid().rewind("postgres", "other"), "rewind user is the superuser");
        assertRejected(valid().parameter("port", "5433"), "parameters: port is managed by pgha");
        assertRejected(valid().parameter("primary_conninfo", "x"), "managed by pgha");
        assertRejected(valid().parameter("Bad-Name", "x"), "is not a parameter name");
        assertRejected(valid().parameter("work_mem", "1\n2"), "must be one line");
        assertRejected(valid().hbaNetworks(java.util.List.of("10.0.0.0")), "hbaNetworks");
        assertRejected(valid().startTimeout(Duration.ZERO), "startTimeout must be a positive duration");
        assertRejected(valid().stopTimeout(null), "stopTimeout must be a positive duration");
        assertRejected(valid().probeTimeout(Duration.ofMillis(500)), "probeTimeout must be at least 1s");
        assertRejected(valid().initdbArgs(java.util.List.of("-D/x")), "initdbArgs: -D/x is set by pgha");
        assertRejected(valid().runAsUser(""), "runAsUser");
    }

    @Test
    void passwordsNeverAppearInRejections() {
        assertThatThrownBy(() -> valid().superuser("postgres", "line1\nline2-s3cret").build())
                .isInstanceOf(IllegalArgumentException.class).message().doesNotContain("s3cret");
    }

    private static void assertRejected(PostgresSettings.Builder b, String message) {
        assertThatThrownBy(b::build).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("PostgresSettings: ").hasMessageContaining(message);
    }
}
