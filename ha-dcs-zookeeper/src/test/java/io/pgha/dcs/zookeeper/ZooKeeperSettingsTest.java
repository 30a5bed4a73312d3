package io.pgha.dcs.zookeeper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.config.ConfigSection;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.time.SystemHaClock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ZooKeeperSettingsTest {

    private static DcsContext context(String member, Duration ttl, Duration retryTimeout) {
        return new DcsContext(KeyLayout.of("orders"), member, ttl, retryTimeout, SystemHaClock.INSTANCE);
    }

    @ParameterizedTest
    @ValueSource(strings = {"zk1:2181", "zk1:2181,zk2:2181,zk3:2181", "zk1:2181,zk2:2181/pgha", "[::1]:2181",
            " 10.0.0.1:2181 "})
    void acceptsZooKeeperConnectStrings(String cs) {
        assertThat(ZooKeeperSettings.builder(cs).build().connectString()).isEqualTo(cs.trim());
    }

    @Test
    void rejectsMalformedConnectStringsNamingThePart() {
        assertThatThrownBy(() -> ZooKeeperSettings.builder(" ")).hasMessageContaining("must not be empty");
        assertThatThrownBy(() -> ZooKeeperSettings.builder("zk1")).hasMessageContaining("'zk1' is not host:port");
        assertThatThrownBy(() -> ZooKeeperSettings.builder("zk1:2181,")).hasMessageContaining("'' is not host:port");
        assertThatThrownBy(() -> ZooKeeperSettings.builder("zk1:http"))
                .hasMessageContaining("port 'http' of 'zk1:http' must be a number from 1 to 65535");
        assertThatThrownBy(() -> ZooKeeperSettings.builder("zk1:70000")).hasMessageContaining("1 to 65535");
        assertThatThrownBy(() -> ZooKeeperSettings.builder("zk1:2181/pgha/")).hasMessageContaining("chroot");
    }

    @Test
    void sessionTimeoutDefaultsToTheTtlAndItsLeaseMustOutlastTheRetryTimeout() {
        ZooKeeperSettings s = ZooKeeperSettings.builder("zk:2181").standalone().build();
        assertThat(s.sessionTimeoutFor(context("a", Duration.ofSeconds(30), Duration.ofSeconds(10))))
                .isEqualTo(Duration.ofSeconds(30));
        assertThat(s.connectionTimeoutFor(context("a", Duration.ofSeconds(30), Duration.ofSeconds(10))))
                .isEqualTo(Duration.ofSeconds(10));

        ZooKeeperSettings o = ZooKeeperSettings.builder("zk:2181").sessionTimeout(Duration.ofSeconds(20))
                .connectionTimeout(Duration.ofSeconds(3)).standalone().build();
        assertThat(o.sessionTimeoutFor(context("a", Duration.ofSeconds(30), Duration.ofSeconds(10))))
                .isEqualTo(Duration.ofSeconds(20));
        assertThat(o.connectionTimeoutFor(context("a", Duration.ofSeconds(30), Duration.ofSeconds(10))))
                .isEqualTo(Duration.ofSeconds(3));

        ZooKeeperSettings tooShort = ZooKeeperSettings.builder("zk:2181").sessionTimeout(Duration.ofSeconds(10))
                .standalone().build();
        assertThatThrownBy(() -> tooShort.sessionTimeoutFor(context("a", Duration.ofSeconds(30),
                Duration.ofSeconds(10))))
                .hasMessageContaining("lease guarantee sessionTimeout×0.99 = 10s×0.99 = 9.9s (a standalone server), "
                        + "with the session timeout from sessionTimeout, must be longer than retryTimeout (10s)");
        assertThatThrownBy(() -> ZooKeeperDcs.open(s, context("a", Duration.ofSeconds(10), Duration.ofSeconds(10))))
                .hasMessageContaining("from ttl");
    }

    @Test
    void throughAFollowerTheLeaseLosesTheRelayTheLinkTimeoutAndTheClockAllowance() {
        // ZooKeeper's sample config (tickTime 2000 ms, syncLimit 5) and Patroni's ttl: 30 s × 0.99 − (5 × 2 s + 2 s +
        // 30 s / 3) × 1.01 = 29.7 s − 22.22 s.
        ZooKeeperSettings defaults = ZooKeeperSettings.builder("zk1:2181,zk2:2181,zk3:2181").build();
        assertThat(defaults.tickTime()).isEqualTo(Duration.ofMillis(2000));
        assertThat(defaults.syncLimit()).isEqualTo(5);
        assertThat(defaults.standalone()).isFalse();
        assertThat(defaults.bound(Duration.ofSeconds(30)).guarantee()).isEqualTo(Duration.ofMillis(7480));
        assertThat(defaults.bound(Duration.ofSeconds(30)).explain()).isEqualTo("sessionTimeout×0.99 − (syncLimit×"
                + "tickTime + tickTime + sessionTimeout/3)×1.01 = 30s×0.99 − (5×2s + 2s + 30s/3)×1.01 = 7.48s (a "
                + "client on a follower)");

        ZooKeeperSettings tuned = ZooKeeperSettings.builder("zk:2181").tickTime(Duration.ofMillis(3000)).syncLimit(2)
                .build();
        // 60 s × 0.99 − (2 × 3 s + 3 s + 20 s) × 1.01 = 59.4 s − 29.29 s
        assertThat(tuned.bound(Duration.ofSeconds(60)).guarantee()).isEqualTo(Duration.ofMillis(30110));
        // The third of an uneven timeout is rounded up, the result down: never more than the servers allow.
        // 60.001 s / 3 = 20.000333333.. s, taken as 20_000_333_334 ns; 59.40099 s − 29.29033666734 s = 30.11065333266 s
        assertThat(tuned.bound(Duration.ofMillis(60_001)).guarantee()).isEqualTo(Duration.ofNanos(30_110_653_332L));

        ZooKeeperSettings standalone = ZooKeeperSettings.builder("zk:2181").standalone().build();
        assertThat(standalone.bound(Duration.ofSeconds(30)).guarantee()).isEqualTo(Duration.ofMillis(29_700));

        // Patroni's 30/10/10 has no lease through a follower with the sample config: refused, naming the numbers.
        assertThatThrownBy(() -> defaults.sessionTimeoutFor(context("a", Duration.ofSeconds(30),
                Duration.ofSeconds(10))))
                .hasMessageContaining("= 7.48s (a client on a follower), with the session timeout from ttl, must be "
                        + "longer than retryTimeout (10s)")
                .hasMessageContaining("lower the servers' tickTime and syncLimit and declare them here");
        assertThat(defaults.bound(Duration.ofSeconds(12)).guarantee()).as("none at all").isNegative();
    }

    @Test
    void theServersTimingIsValidatedAndStandaloneExcludesASyncLimit() {
        assertThatThrownBy(() -> ZooKeeperSettings.builder("zk:2181").syncLimit(0))
                .hasMessageContaining("syncLimit must be at least 1 tick");
        assertThatThrownBy(() -> ZooKeeperSettings.builder("zk:2181").tickTime(Duration.ZERO))
                .hasMessageContaining("tickTime must be at least 1 ms");
        assertThatThrownBy(() -> ZooKeeperSettings.builder("zk:2181").syncLimit(5).standalone().build())
                .hasMessageContaining("standalone and syncLimit 5 contradict each other");
        assertThat(ZooKeeperSettings.builder("zk:2181").tickTime(Duration.ofMillis(500)).standalone().build()
                .toString()).contains("servers=standalone");
        assertThat(ZooKeeperSettings.builder("zk:2181").build().toString())
                .contains("servers=ensemble(tickTime=2s, syncLimit=5)");
    }

    @Test
    void theFactoryKnowsTheLeaseBeforeConnectingAndTheConfigSectionDeclaresTheServers() {
        DcsFactory f = new ZooKeeperDcsProvider().fromConfig(new ConfigSection("zookeeper", Map.of(
                "hosts", List.of("zk1:2181", "zk2:2181"), "tick_time_ms", 500, "sync_limit", 4)));
        // 30 s × 0.99 − (4 × 0.5 s + 0.5 s + 10 s) × 1.01
        assertThat(f.expectedLeaseGuarantee(context("a", Duration.ofSeconds(30), Duration.ofSeconds(5))))
                .isEqualTo(Duration.ofMillis(17_075));
        assertThat(f.toString()).isEqualTo("ZooKeeper (an ensemble with tickTime 500ms, syncLimit 4: "
                + "sessionTimeout×0.99 − (4×500ms + 500ms + sessionTimeout/3)×1.01)");

        DcsFactory single = new ZooKeeperDcsProvider().fromConfig(new ConfigSection("zookeeper", Map.of(
                "hosts", "zk1:2181", "standalone", true)));
        assertThat(single.expectedLeaseGuarantee(context("a", Duration.ofSeconds(10), Duration.ofSeconds(3))))
                .isEqualTo(Duration.ofMillis(9900));

        assertThatThrownBy(() -> new ZooKeeperDcsProvider().fromConfig(new ConfigSection("zookeeper", Map.of(
                "hosts", "zk1:2181", "sync_limit", 0))))
                .hasMessage("zookeeper.sync_limit must be the servers' syncLimit in ticks, at least 1 (got 0)");
        assertThatThrownBy(() -> new ZooKeeperDcsProvider().fromConfig(new ConfigSection("zookeeper", Map.of(
                "hosts", "zk1:2181", "tick_time_ms", 0))))
                .hasMessage("zookeeper.tick_time_ms must be the servers' tickTime in milliseconds, at least 1 (got 0)");
        DcsFactory defaults = ZooKeeperDcs.connect("zk1:2181");
        assertThatThrownBy(() -> defaults.expectedLeaseGuarantee(context("a", Duration.ofSeconds(30),
                Duration.ofSeconds(10)))).hasMessageContaining("7.48s");
    }

    @Test
    void rejectsNonPositiveTimeouts() {
        ZooKeeperSettings.Builder b = ZooKeeperSettings.builder("zk:2181");
        assertThatThrownBy(() -> b.sessionTimeout(Duration.ZERO)).hasMessageContaining("sessionTimeout must be at least 1 ms");
        assertThatThrownBy(() -> b.connectionTimeout(Duration.ofMillis(-5)))
                .hasMessageContaining("connectionTimeout must be at least 1 ms");
        assertThatThrownBy(() -> b.sessionTimeout(Duration.ofDays(30))).hasMessageContaining("fit in an int");
    }

    @Test
    void digestAuthIsValidatedAndNeverPrinted() {
        DigestAuth a = DigestAuth.parse("pgha:pa:ss");
        assertThat(a.user()).isEqualTo("pgha");
        assertThat(a.password()).isEqualTo("pa:ss");
        assertThat(a.toString()).doesNotContain("pa:ss");
        assertThat(ZooKeeperSettings.builder("zk:2181").digestAuth("pgha", "secret").build().toString())
                .contains("pgha").doesNotContain("secret");
        assertThat(a.aclId()).startsWith("pgha:").doesNotContain("pa:ss");
        assertThatThrownBy(() -> DigestAuth.parse("nopassword")).hasMessageContaining("user:password");
        assertThatThrownBy(() -> DigestAuth.parse(":x")).hasMessageContaining("user:password");
        assertThatThrownBy(() -> new DigestAuth("a:b", "x")).hasMessageContaining("no ':'");
        assertThatThrownBy(() -> new DigestAuth("pgha", "")).hasMessageContaining("password must not be empty");
    }

    @Test
    void memberNamesMustBeUsableAsOneZnode() {
        ZooKeeperSettings s = ZooKeeperSettings.builder("127.0.0.1:1").build();
        assertThatThrownBy(() -> ZooKeeperDcs.open(s, context("db/1", Duration.ofSeconds(30), Duration.ofSeconds(10))))
                .hasMessageContaining("members/<name>");
    }
}
