package io.pgha.examples.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.pgha.core.api.HaCluster;
import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.config.Credentials;
import io.pgha.core.config.ReloadableSettings;
import io.pgha.core.config.RestEndpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AgentConfigTest {

    private static final String SERVER_TIMING = "  tick_time_ms: 500\n  sync_limit: 4\n";
    private static final String ZOOKEEPER = "zookeeper:\n  hosts: [127.0.0.1:2181]\n" + SERVER_TIMING;

    /** A complete member file; PatroniEnvironmentTest puts variables over it. */
    static final String MEMBER = """
            scope: orders
            name: db-1
            restapi:
              listen: 127.0.0.1:18008
              connect_address: 127.0.0.1:18008
              authentication: {username: admin, password: secret}
            zookeeper:
              hosts: [127.0.0.1:2181]
              tick_time_ms: 500
              sync_limit: 4
            bootstrap:
              dcs:
                ttl: 20
                loop_wait: 2
                retry_timeout: 4
                maximum_lag_on_failover: 1048576
                synchronous_mode: true
                postgresql:
                  use_pg_rewind: true
                  use_slots: true
                  parameters: {max_connections: 50}
            postgresql:
              listen: 127.0.0.1:15432
              connect_address: 127.0.0.1:15432
              data_dir: /tmp/pgha-agent-test/data
              bin_dir: /usr/lib/postgresql/15/bin
              authentication:
                superuser: {username: postgres, password: s3cret}
                replication: {username: replicator, password: r3pl}
              parameters: {shared_buffers: 32MB}
            tags:
              nofailover: false
              failover_priority: 2
              datacenter: eu-1
            """;

    private static Map<String, Object> yaml(String text) throws Exception {
        @SuppressWarnings("unchecked")
        Map<String, Object> m = new ObjectMapper(new YAMLFactory()).readValue(text, Map.class);
        return m;
    }

    @Test
    void aPatroniStyleFileConfiguresTheMember() throws Exception {
        AgentConfig c = AgentConfig.parse(yaml(MEMBER));
        HaCluster node = c.cluster();
        assertThat(c.store()).isEqualTo("zookeeper");
        assertThat(c.warnings()).isEmpty();
        assertThat(node.name()).isEqualTo("db-1");
        assertThat(node.settings().ttl()).isEqualTo(Duration.ofSeconds(20));
        assertThat(node.settings().loopWait()).isEqualTo(Duration.ofSeconds(2));
        assertThat(node.settings().synchronousMode()).isEqualTo(io.pgha.core.config.SynchronousMode.ON);
        assertThat(node.settings().tags().failoverPriority()).isEqualTo(2);
        assertThat(node.settings().tags().custom()).containsEntry("datacenter", "eu-1");
    }

    /** Issue 12: bootstrap.dcs goes whole into the config key, its parameters cluster-wide rather than local. */
    @Test
    void bootstrapDcsIsCopiedWholeIntoTheConfigKey() throws Exception {
        HaCluster node = AgentConfig.parse(yaml(MEMBER)).cluster();
        GlobalConfig written = GlobalConfig.bootstrap(node.settings());

        assertThat(written.postgresParameters()).containsExactly(Map.entry("max_connections", "50"));
        assertThat(written.useSlots()).contains(true);
        assertThat(written.usePgRewind()).contains(true);
        assertThat(written.ttl()).contains(Duration.ofSeconds(20));
    }

    /**
     * Issue 12: the member's own pg_hba and pg_ident reach its PostgreSQL settings (checked there: each entry one
     * line); bootstrap.dcs' pg_hba and pg_ident go to the config key, which members without their own use.
     */
    @Test
    void pgHbaAndPgIdentAreTheMembersOwnOrTheClusters() throws Exception {
        String own = MEMBER.replace("  parameters: {shared_buffers: 32MB}\n",
                "  parameters: {shared_buffers: 32MB}\n  pg_ident: [\"ops alice\\nbob\"]\n");
        assertThatThrownBy(() -> AgentConfig.parse(yaml(own)).cluster()).hasMessageContaining(
                "pgIdent: each entry must be one line");
        String hba = MEMBER.replace("  parameters: {shared_buffers: 32MB}\n",
                "  parameters: {shared_buffers: 32MB}\n  pg_hba: [\"local all\\nall trust\"]\n");
        assertThatThrownBy(() -> AgentConfig.parse(yaml(hba)).cluster()).hasMessageContaining(
                "pgHba: each entry must be one line");

        String cluster = MEMBER.replace("      parameters: {max_connections: 50}\n",
                "      parameters: {max_connections: 50}\n"
                        + "      pg_hba: [\"local all all trust\"]\n"
                        + "      pg_ident: [\"ops alice postgres\"]\n");
        AgentConfig c = AgentConfig.parse(yaml(cluster));
        assertThat(c.warnings()).isEmpty();
        GlobalConfig written = GlobalConfig.bootstrap(c.cluster().settings());
        assertThat(written.postgresHba()).containsExactly("local all all trust");
        assertThat(written.postgresIdent()).containsExactly("ops alice postgres");
    }

    /**
     * Issue 12: a reload reads the file again (with the environment over it): tags and the member's own parameters,
     * pg_hba and pg_ident are taken; any other changed key is only named (it waits for a restart, secrets never
     * printed); a file that no longer parses fails the reload with the file's name.
     */
    @Test
    void aReloadReReadsTheFileAndTakesTagsAndTheMembersOwnPostgresSettings(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("member.yaml");
        Files.writeString(file, MEMBER);
        YamlReload reload = new YamlReload(file, Map.of(), AgentConfig.read(file, Map.of()),
                new CallbackScripts(Map.of(), "orders"));
        ReloadableSettings same = reload.get();
        assertThat(same.parameters()).containsExactly(Map.entry("shared_buffers", "32MB"));
        assertThat(same.tags().failoverPriority()).isEqualTo(2);

        Files.writeString(file, MEMBER.replace("  parameters: {shared_buffers: 32MB}\n",
                "  parameters: {shared_buffers: 32MB, work_mem: 8MB}\n  pg_ident: [\"ops alice postgres\"]\n")
                .replace("  failover_priority: 2", "  failover_priority: 3")
                .replace("    ttl: 20", "    ttl: 25")
                .replace("password: s3cret", "password: n3w-s3cret")
                .replace("listen: 127.0.0.1:18008", "listen: 127.0.0.1:18009")
                .replace("connect_address: 127.0.0.1:18008", "connect_address: db-1.internal:18009")
                .replace("{username: admin, password: secret}", "{username: ops, password: rotated}"));
        ReloadableSettings next = reload.get();
        assertThat(next.rest()).as("restapi.listen, connect_address and authentication are taken").isEqualTo(
                new RestEndpoint("127.0.0.1", 18009, "db-1.internal", new Credentials("ops", "rotated"), false));
        assertThat(same.rest().port()).isEqualTo(18008);
        assertThat(next.parameters()).containsEntry("work_mem", "8MB");
        assertThat(next.pgIdent()).containsExactly("ops alice postgres");
        assertThat(next.tags().failoverPriority()).isEqualTo(3);
        assertThat(next.tags().custom()).containsEntry("datacenter", "eu-1");
        assertThat(YamlReload.changedKeys(AgentConfig.read(file, Map.of()), yaml(MEMBER)))
                .containsExactlyInAnyOrder("bootstrap.dcs.ttl", "postgresql.authentication.superuser.password");

        Files.writeString(file, "scope: [unclosed");
        assertThatThrownBy(reload::get).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("not valid YAML");
    }

    /** Issue 12: use_slots and member_slots_ttl from bootstrap.dcs are the member's, and reach the config key. */
    @Test
    void slotSettingsComeFromBootstrapDcsInPatronisForms() throws Exception {
        HaCluster on = AgentConfig.parse(yaml(MEMBER.replace("      use_slots: true\n", ""))).cluster();
        assertThat(on.settings().useSlots()).as("Patroni's default").isTrue();
        assertThat(on.settings().memberSlotsTtl()).isEqualTo(Duration.ofMinutes(30));

        HaCluster off = AgentConfig.parse(yaml(MEMBER.replace("use_slots: true", "use_slots: false")
                .replace("    ttl: 20\n", "    ttl: 20\n    member_slots_ttl: 1h\n"))).cluster();
        assertThat(off.settings().useSlots()).isFalse();
        assertThat(off.settings().memberSlotsTtl()).isEqualTo(Duration.ofHours(1));
        GlobalConfig written = GlobalConfig.bootstrap(off.settings());
        assertThat(written.useSlots()).contains(false);
        assertThat(written.memberSlotsTtl()).contains(Duration.ofHours(1));

        assertThatThrownBy(() -> AgentConfig.parse(yaml(MEMBER.replace("    ttl: 20\n",
                "    ttl: 20\n    member_slots_ttl: soon\n")))).hasMessageStartingWith(
                        "bootstrap.dcs.member_slots_ttl: expected seconds or a number with a unit");
    }

    @Test
    void unknownKeysAreNamedInWarnings() throws Exception {
        AgentConfig c = AgentConfig.parse(yaml(MEMBER + "frobnicate: 1\npostgresql_extra: {}\n"
                .replace("postgresql_extra: {}\n", "")));
        assertThat(c.warnings()).containsExactly("unknown setting 'frobnicate' is ignored");
        AgentConfig d = AgentConfig.parse(yaml(MEMBER.replace("  listen: 127.0.0.1:15432",
                "  listen: 127.0.0.1:15432\n  lisen_typo: 1")));
        assertThat(d.warnings()).containsExactly("unknown setting 'postgresql.lisen_typo' is ignored");
    }

    @Test
    void invalidValuesAreClearErrorsNamingTheKey() throws Exception {
        assertThatThrownBy(() -> AgentConfig.parse(yaml(MEMBER.replace("ttl: 20", "ttl: twenty"))))
                .hasMessage("bootstrap.dcs.ttl: expected a number of seconds, got 'twenty'");
        assertThatThrownBy(() -> AgentConfig.parse(yaml(MEMBER.replace("listen: 127.0.0.1:15432", "listen: nowhere"))))
                .hasMessage("postgresql.listen: expected host:port, got 'nowhere'");
        assertThatThrownBy(() -> AgentConfig.parse(yaml(MEMBER.replace("ttl: 20", "ttl: 5"))))
                .hasMessageContaining("loopWait + 2*retryTimeout must be <= ttl (got 2s + 2*4s > 5s)");
        assertThatThrownBy(() -> AgentConfig.parse(yaml(MEMBER.replace(ZOOKEEPER, ""))))
                .hasMessageContaining("a store section is required");
        // Without the servers' timing, ZooKeeper's sample config is assumed: 20 s x 0.99 - (5 x 2 s + 2 s + 20 s / 3)
        // x 1.01 leaves no lease that outlasts a 4 s call.
        assertThatThrownBy(() -> AgentConfig.parse(yaml(MEMBER.replace(SERVER_TIMING, ""))))
                .hasMessageContaining("ZooKeeper lease guarantee")
                .hasMessageContaining("= 946ms (a client on a follower)")
                .hasMessageContaining("must be longer than retryTimeout (4s)");
        assertThatThrownBy(() -> AgentConfig.parse(yaml(MEMBER.replace("synchronous_mode: true",
                "synchronous_mode: quorum")))).hasMessageContaining("quorum commit is not supported");
    }

    @Test
    void theRestApiNeedsCredentialsUnlessExplicitlyOpened() throws Exception {
        String auth = "  authentication: {username: admin, password: secret}\n";
        assertThat(MEMBER).contains(auth);
        assertThatThrownBy(() -> AgentConfig.parse(yaml(MEMBER.replace(auth, ""))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("restapi.authentication is required")
                .hasMessageContaining("127.0.0.1:18008")
                .hasMessageContaining("POST /failover")
                .hasMessageContaining("restapi.allow_unauthenticated: true");

        AgentConfig open = AgentConfig.parse(yaml(MEMBER.replace(auth, "  allow_unauthenticated: true\n")));
        assertThat(open.warnings()).isEmpty();

        assertThatThrownBy(() -> AgentConfig.parse(yaml(MEMBER.replace(auth, auth
                + "  allow_unauthenticated: true\n"))))
                .hasMessage("restapi.authentication and restapi.allow_unauthenticated exclude each other: remove one");
    }

    @Test
    void theWatchdogSectionIsPatronis() throws Exception {
        assertThatThrownBy(() -> AgentConfig.parse(yaml(MEMBER + "watchdog: {mode: sometimes}\n")))
                .hasMessage("watchdog.mode: expected off, automatic or required, got 'sometimes'");
        AgentConfig off = AgentConfig.parse(yaml(MEMBER + "watchdog: {mode: off}\n"));
        assertThat(off.warnings()).isEmpty();
        AgentConfig required = AgentConfig.parse(yaml(MEMBER
                + "watchdog: {mode: require, device: /nonexistent-pgha-test/watchdog1, safety_margin: 5}\n"));
        assertThat(required.warnings()).containsExactly("watchdog.safety_margin is ignored: pgha uses the timeout"
                + " the device already has (set it where the driver is loaded, e.g. `modprobe softdog soft_margin=25`)");
        // The mode and the device took effect: a required watchdog without its device stops the start, naming it.
        assertThatThrownBy(required.cluster()::start).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("watchdog required, but there is no watchdog device at"
                        + " /nonexistent-pgha-test/watchdog1");
    }

    @Test
    void aMissingFileOrBrokenYamlIsAClearError(@TempDir Path dir) throws Exception {
        assertThatThrownBy(() -> AgentConfig.load(dir.resolve("nope.yaml"))).hasMessageContaining("cannot read");
        Path bad = dir.resolve("bad.yaml");
        Files.writeString(bad, "scope: [unclosed");
        assertThatThrownBy(() -> AgentConfig.load(bad)).hasMessageContaining("not valid YAML");
    }

    @Test
    void everyStoreIsSelectableByItsSection() throws Exception {
        String zk = ZOOKEEPER;
        assertThat(AgentConfig.parse(yaml(MEMBER.replace(zk, "etcd3:\n  hosts: [127.0.0.1:2379]\n"))).store())
                .isEqualTo("etcd3");
        assertThat(AgentConfig.parse(yaml(MEMBER.replace(zk, "consul:\n  url: http://127.0.0.1:8500\n"
                + "bootstrap_fix: 1\n").replace("bootstrap_fix: 1\n", "").replace("ttl: 20", "ttl: 40")))
                .store()).isEqualTo("consul");
        assertThatThrownBy(() -> AgentConfig.parse(yaml(MEMBER.replace(zk, zk + "etcd3:\n  hosts: [a:1]\n"))))
                .hasMessageContaining("configure one store");
    }
}
