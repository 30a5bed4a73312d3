package io.pgha.dcs.consul;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.testkit.FakeMember;
import io.pgha.core.time.SystemHaClock;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;

class ConsulSettingsTest {

    private static DcsContext context(Duration ttl, Duration retry) {
        return new DcsContext(KeyLayout.of("orders"), "db-1", ttl, retry, SystemHaClock.INSTANCE);
    }

    @Test
    void agentUrlsAreCheckedAndCompleted() {
        assertThat(ConsulSettings.builder("127.0.0.1:8500").build().agents())
                .containsExactly(URI.create("http://127.0.0.1:8500"));
        assertThat(ConsulSettings.builder("https://consul.internal").build().agents())
                .containsExactly(URI.create("https://consul.internal:8501"));
        assertThat(ConsulSettings.builder("http://a:1", "http://b:2/").build().agents()).hasSize(2);
        assertThatThrownBy(() -> ConsulSettings.builder(" ")).hasMessageContaining("must not be empty");
        assertThatThrownBy(() -> ConsulSettings.builder("ftp://a:1")).hasMessageContaining("must use http or https");
        assertThatThrownBy(() -> ConsulSettings.builder("http://a:8500/v1/kv"))
                .hasMessageContaining("must be only scheme://host:port");
        assertThatThrownBy(() -> ConsulSettings.builder("http://user:pw@a:8500"))
                .hasMessageContaining("the token goes in the token setting");
        assertThatThrownBy(() -> ConsulSettings.builder(List.of())).hasMessageContaining("at least one agent");
    }

    @Test
    void theTokenIsValidatedAndNeverPrinted() {
        ConsulSettings s = ConsulSettings.builder("a:1").token("secret-token").build();
        assertThat(s.token()).isEqualTo("secret-token");
        assertThat(s.toString()).doesNotContain("secret-token").contains("token=****");
        assertThatThrownBy(() -> ConsulSettings.builder("a:1").token("  ")).hasMessageContaining("must not be blank");
        assertThatThrownBy(() -> ConsulSettings.builder("a:1").token("two words"))
                .hasMessageContaining("X-Consul-Token header");
    }

    @Test
    void durationsAreBoundedNamingTheSettingAndTheRule() {
        ConsulSettings.Builder b = ConsulSettings.builder("a:1");
        assertThatThrownBy(() -> b.lockDelay(Duration.ZERO).build())
                .hasMessageContaining("lockDelay must be from 1 ms to 60 s");
        assertThatThrownBy(() -> ConsulSettings.builder("a:1").lockDelay(Duration.ofSeconds(61)).build())
                .hasMessageContaining("Consul caps it at 60 s");
        assertThatThrownBy(() -> ConsulSettings.builder("a:1").watchWait(Duration.ofMinutes(11)).build())
                .hasMessageContaining("watchWait must be from 1 s to 10 min");
        assertThatThrownBy(() -> ConsulSettings.builder("a:1").sessionTtlMin(Duration.ZERO).build())
                .hasMessageContaining("sessionTtlMin must be from 1 ms to 86400 s");
        assertThatThrownBy(() -> ConsulSettings.builder("a:1").datacenter("dc 1"))
                .hasMessageContaining("datacenter 'dc 1'");
        ConsulSettings d = ConsulSettings.builder("a:1").build();
        assertThat(d.lockDelay()).isEqualTo(Duration.ofMillis(1));
        assertThat(d.sessionTtlMin()).isEqualTo(Duration.ofSeconds(10));
        assertThat(d.consistency()).isEqualTo(ConsulConsistency.CONSISTENT);
    }

    @Test
    void theSessionTtlIsHalfTheTtlAndAtLeastTheServersMinimum() {
        ConsulSettings d = ConsulSettings.builder("a:1").build();
        assertThat(d.sessionTtlFor(context(Duration.ofSeconds(30), Duration.ofSeconds(10))))
                .isEqualTo(Duration.ofSeconds(15));
        assertThatThrownBy(() -> d.sessionTtlFor(context(Duration.ofSeconds(19), Duration.ofSeconds(2))))
                .hasMessageContaining("ttl 19 s is too short").hasMessageContaining("at least 2 x 10 s = 20 s");
        ConsulSettings lowered = ConsulSettings.builder("a:1").sessionTtlMin(Duration.ofSeconds(1)).build();
        assertThat(lowered.sessionTtlFor(context(Duration.ofSeconds(5), Duration.ofSeconds(2))))
                .isEqualTo(Duration.ofMillis(2500));
        assertThatThrownBy(() -> d.sessionTtlFor(context(Duration.ofDays(3), Duration.ofSeconds(2))))
                .hasMessageContaining("at most 86400 s");
        assertThat(d.connectTimeoutFor(context(Duration.ofSeconds(30), Duration.ofSeconds(10))))
                .isEqualTo(Duration.ofSeconds(10));
        assertThat(ConsulSettings.builder("a:1").connectTimeout(Duration.ofSeconds(1)).build()
                .connectTimeoutFor(context(Duration.ofSeconds(30), Duration.ofSeconds(10))))
                .isEqualTo(Duration.ofSeconds(1));
    }

    @Test
    void tlsStoresFailFastAndExcludeAReadyContext() throws Exception {
        assertThatThrownBy(() -> ConsulSettings.builder("https://a:1")
                .trustStore(Path.of("/nonexistent/trust.p12"), null).build())
                .hasMessageContaining("trustStore /nonexistent/trust.p12 is not a readable file");
        assertThatThrownBy(() -> ConsulSettings.builder("https://a:1").sslContext(SSLContext.getDefault())
                .trustStore(Path.of("/nonexistent/trust.p12"), null).build())
                .hasMessageContaining("excludes trustStore and keyStore");
    }

    @Test
    void goDurationsRoundTrip() {
        assertThat(GoDuration.format(Duration.ofSeconds(15))).isEqualTo("15s");
        assertThat(GoDuration.format(Duration.ofMillis(2500))).isEqualTo("2500ms");
        assertThat(GoDuration.format(Duration.ofMillis(1))).isEqualTo("1ms");
        assertThat(GoDuration.parse("1m30s")).isEqualTo(Duration.ofSeconds(90));
        assertThat(GoDuration.parse("2.5s")).isEqualTo(Duration.ofMillis(2500));
        assertThat(GoDuration.parse("24h0m0s")).isEqualTo(Duration.ofHours(24));
        assertThat(GoDuration.parse("0")).isEqualTo(Duration.ZERO);
        assertThat(GoDuration.parse("1µs")).isEqualTo(Duration.ofNanos(1000));
        assertThatThrownBy(() -> GoDuration.parse("15")).hasMessageContaining("unit");
        assertThatThrownBy(() -> GoDuration.parse("s")).hasMessageContaining("invalid duration");
    }

    @Test
    void aMemberWithATtlNoConsulSessionCanHonourFailsWhenBuiltNotInARetryLoop() {
        DcsFactory consul = ConsulDcs.connect("http://127.0.0.1:1");
        assertThatThrownBy(() -> FakeMember.builder("orders", consul).ttl(Duration.ofSeconds(10))
                .loopWait(Duration.ofSeconds(2)).retryTimeout(Duration.ofSeconds(4)).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("ttl 10 s is too short for Consul").hasMessageContaining("at least 2 x 10 s");
        assertThat(FakeMember.builder("orders", consul).ttl(Duration.ofSeconds(20)).loopWait(Duration.ofSeconds(2))
                .retryTimeout(Duration.ofSeconds(4)).build()).as("a 10 s session holds").isNotNull();
    }
}
