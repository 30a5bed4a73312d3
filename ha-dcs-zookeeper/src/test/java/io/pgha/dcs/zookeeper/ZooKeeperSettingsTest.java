package io.pgha.dcs.zookeeper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.time.SystemHaClock;
import java.time.Duration;
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
    void sessionTimeoutDefaultsToTheTtlAndMustOutlastTheRetryTimeout() {
        ZooKeeperSettings s = ZooKeeperSettings.builder("zk:2181").build();
        assertThat(s.sessionTimeoutFor(context("a", Duration.ofSeconds(30), Duration.ofSeconds(10))))
                .isEqualTo(Duration.ofSeconds(30));
        assertThat(s.connectionTimeoutFor(context("a", Duration.ofSeconds(30), Duration.ofSeconds(10))))
                .isEqualTo(Duration.ofSeconds(10));

        ZooKeeperSettings o = ZooKeeperSettings.builder("zk:2181").sessionTimeout(Duration.ofSeconds(20))
                .connectionTimeout(Duration.ofSeconds(3)).build();
        assertThat(o.sessionTimeoutFor(context("a", Duration.ofSeconds(30), Duration.ofSeconds(10))))
                .isEqualTo(Duration.ofSeconds(20));
        assertThat(o.connectionTimeoutFor(context("a", Duration.ofSeconds(30), Duration.ofSeconds(10))))
                .isEqualTo(Duration.ofSeconds(3));

        ZooKeeperSettings tooShort = ZooKeeperSettings.builder("zk:2181").sessionTimeout(Duration.ofSeconds(5)).build();
        assertThatThrownBy(() -> tooShort.sessionTimeoutFor(context("a", Duration.ofSeconds(30),
                Duration.ofSeconds(10))))
                .hasMessageContaining("session timeout (5000 ms, from sessionTimeout) must be longer than retryTimeout");
        assertThatThrownBy(() -> ZooKeeperDcs.open(s, context("a", Duration.ofSeconds(10), Duration.ofSeconds(10))))
                .hasMessageContaining("from ttl");
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
