package io.pgha.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.cluster.Lsn;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class HaSettingsTest {

    @Test
    void defaultsArePatronis() {
        HaSettings s = HaSettings.builder("orders", "db-1").build();
        assertThat(s.ttl()).isEqualTo(Duration.ofSeconds(30));
        assertThat(s.loopWait()).isEqualTo(Duration.ofSeconds(10));
        assertThat(s.retryTimeout()).isEqualTo(Duration.ofSeconds(10));
        assertThat(s.maximumLagOnFailover()).isEqualTo(DataSize.ofMegabytes(1));
        assertThat(s.primaryStartTimeout()).isEqualTo(Duration.ofSeconds(300));
        assertThat(s.switchoverDrain()).isEqualTo(Duration.ofSeconds(1));
        assertThat(s.namespace()).isEqualTo("/service");
    }

    @Test
    void s1_loopWaitPlusTwiceRetryTimeoutAboveTtlIsRejectedWithTheRuleAndTheNumbers() {
        assertThatThrownBy(() -> HaSettings.builder("orders", "db-1").ttl(Duration.ofSeconds(25)).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("loopWait + 2*retryTimeout must be <= ttl (got 10s + 2*10s > 25s)");
        assertThatThrownBy(() -> HaSettings.builder("orders", "db-1").ttl(Duration.ofMillis(2500))
                .loopWait(Duration.ofMillis(500)).retryTimeout(Duration.ofMillis(1500)).build())
                .hasMessage("loopWait + 2*retryTimeout must be <= ttl (got 500ms + 2*1.5s > 2.5s)");
    }

    @Test
    void theBoundaryOfTheRuleIsAllowedNotClamped() {
        HaSettings s = HaSettings.builder("orders", "db-1").ttl(Duration.ofSeconds(30)).loopWait(Duration.ofSeconds(10))
                .retryTimeout(Duration.ofSeconds(10)).build();
        assertThat(s.loopWait()).isEqualTo(Duration.ofSeconds(10));
    }

    @Test
    void badValuesNameTheSetting() {
        assertThatThrownBy(() -> HaSettings.builder("", "db-1").build()).hasMessage("scope is required");
        assertThatThrownBy(() -> HaSettings.builder("orders", "a/b").build()).hasMessageContaining("name must not");
        assertThatThrownBy(() -> HaSettings.builder("orders", "db-1").loopWait(Duration.ZERO).build())
                .hasMessage("loopWait must be > 0 (got 0s)");
        assertThatThrownBy(() -> HaSettings.builder("orders", "db-1").synchronousNodeCount(0).build())
                .hasMessage("synchronousNodeCount must be >= 1 (got 0)");
        assertThatThrownBy(() -> HaSettings.builder("orders", "db-1").primaryStartTimeout(Duration.ofSeconds(-1))
                .build()).hasMessageContaining("primaryStartTimeout must be >= 0");
        assertThatThrownBy(() -> HaSettings.builder("orders", "db-1").switchoverDrain(Duration.ofSeconds(61))
                .build()).hasMessage("switchoverDrain must be between 0 and 60s (got 61s)");
        assertThatThrownBy(() -> HaSettings.builder("orders", "db-1").switchoverDrain(Duration.ofMillis(-1))
                .build()).hasMessageContaining("switchoverDrain must be between 0 and 60s");
    }

    @Test
    void dynamicSettingsFromTheDcsWinAndAreValidatedTheSameWay() {
        HaSettings local = HaSettings.builder("orders", "db-1").build();
        HaSettings s = local.withDynamic(GlobalConfig.of(Map.of("ttl", 20, "loop_wait", 2, "retry_timeout", 4,
                "maximum_lag_on_failover", 4096, "synchronous_mode", true)).dynamic());
        assertThat(s.ttl()).isEqualTo(Duration.ofSeconds(20));
        assertThat(s.maximumLagOnFailover().bytes()).isEqualTo(4096);
        assertThat(s.synchronousMode()).isEqualTo(SynchronousMode.ON);
        assertThatThrownBy(() -> local.withDynamic(GlobalConfig.of(Map.of("ttl", 15)).dynamic()))
                .hasMessage("config: loopWait + 2*retryTimeout must be <= ttl (got 10s + 2*10s > 15s)");
    }

    @Test
    void theBootstrapConfigReadsBackAsTheSameSettings() {
        HaSettings s = HaSettings.builder("orders", "db-1").ttl(Duration.ofSeconds(12))
                .loopWait(Duration.ofMillis(500)).retryTimeout(Duration.ofSeconds(5)).build();
        HaSettings other = HaSettings.builder("orders", "db-2").build()
                .withDynamic(GlobalConfig.bootstrap(s).dynamic());
        assertThat(other.ttl()).isEqualTo(s.ttl());
        assertThat(other.loopWait()).isEqualTo(Duration.ofMillis(500));
        assertThat(other.retryTimeout()).isEqualTo(Duration.ofSeconds(5));
    }

    @Test
    void dataSizesAndLsnsParse() {
        assertThat(DataSize.parse("16kB").bytes()).isEqualTo(16384);
        assertThat(DataSize.parse("64MB")).isEqualTo(DataSize.ofMegabytes(64));
        assertThat(DataSize.parse("1048576").bytes()).isEqualTo(1048576);
        assertThatThrownBy(() -> DataSize.parse("12 parsecs")).hasMessageContaining("unknown unit");
        assertThat(Lsn.parse("16/B374D848").value()).isEqualTo(0x16B374D848L);
        assertThat(Lsn.parse("16/B374D848").toString()).isEqualTo("16/B374D848");
        assertThat(Lsn.parse("123")).isEqualTo(Lsn.of(123));
        assertThatThrownBy(() -> Lsn.parse("x/y")).hasMessageContaining("not an LSN");
    }
}
