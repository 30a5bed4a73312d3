package io.pgha.core.internal.ha;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.config.DataSize;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.SynchronousMode;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Which stored config values a member applies: per setting, never a combination that breaks a rule (pure). */
class DynamicConfigRulesTest {

    private final HaSettings local = HaSettings.builder("c", "m1").build(); // ttl 30 s, loop_wait 10 s, retry 10 s

    private static DynamicConfigRules.Resolved resolve(HaSettings local, HaSettings applied, Map<String, ?> stored) {
        return DynamicConfigRules.resolve(local, applied, GlobalConfig.of(stored).dynamic(), s -> null);
    }

    /** The case: Patroni's tools accept it; pgha's rule S1 does not (3 + 2*4 > 10). */
    @Test
    void aTimingTripleThatBreaksS1KeepsTheOffendingSettingAndAppliesTheRest() {
        DynamicConfigRules.Resolved r = resolve(local, local,
                Map.of("ttl", 10, "loop_wait", 3, "retry_timeout", 4, "maximum_lag_on_failover", 2048,
                        "synchronous_mode", true));

        HaSettings s = r.settings();
        assertThat(s.loopWait().plus(s.retryTimeout().multipliedBy(2))).as("rule S1 holds")
                .isLessThanOrEqualTo(s.ttl());
        assertThat(s.ttl()).as("ttl kept").isEqualTo(Duration.ofSeconds(30));
        assertThat(s.loopWait()).isEqualTo(Duration.ofSeconds(3));
        assertThat(s.retryTimeout()).isEqualTo(Duration.ofSeconds(4));
        assertThat(s.maximumLagOnFailover()).as("the rest applies").isEqualTo(DataSize.ofBytes(2048));
        assertThat(s.synchronousMode()).isEqualTo(SynchronousMode.ON);
        assertThat(r.kept()).containsOnlyKeys("ttl");
        assertThat(r.kept().get("ttl")).isEqualTo("keeping ttl = 30s, not the stored 10s: loopWait + 2*retryTimeout"
                + " must be <= ttl (got 3s + 2*4s > 10s)");
    }

    /**
     * Issue 12: Patroni's tools store any type ({@code patronictl edit-config --set ttl=soon}); the key used to be
     * undecodable as a whole, so every other change (pause too) was ignored while it was stored.
     */
    @Test
    void aValueOfTheWrongTypeKeepsItsLastAppliedValueAndTheRestApplies() {
        HaSettings applied = HaSettings.builder("c", "m1").ttl(Duration.ofSeconds(20)).loopWait(Duration.ofSeconds(4))
                .retryTimeout(Duration.ofSeconds(5)).synchronousMode(SynchronousMode.ON).build();
        GlobalConfig stored = GlobalConfig.lenient(Map.of("ttl", "soon", "loop_wait", 2, "retry_timeout", 5,
                "synchronous_mode", "sometimes", "maximum_lag_on_failover", 4096, "pause", true), 7);
        assertThat(stored.malformed()).containsOnlyKeys("ttl", "synchronous_mode");
        assertThat(stored.pause()).isTrue();

        DynamicConfigRules.Resolved r = DynamicConfigRules.resolve(local, applied, stored, s -> null);

        assertThat(r.settings().ttl()).as("the last applied, not the local 30 s").isEqualTo(Duration.ofSeconds(20));
        assertThat(r.settings().synchronousMode()).as("the last applied, not the local off")
                .isEqualTo(SynchronousMode.ON);
        assertThat(r.settings().loopWait()).isEqualTo(Duration.ofSeconds(2));
        assertThat(r.settings().maximumLagOnFailover()).isEqualTo(DataSize.ofBytes(4096));
        assertThat(r.kept()).containsOnlyKeys("ttl", "synchronous_mode");
        assertThat(r.kept().get("ttl")).isEqualTo("keeping ttl = 20s, the stored value is unusable: expected an"
                + " integer, got \"soon\"");
    }

    @Test
    void theStrictConstructorStillRefusesAWrongType() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> GlobalConfig.of(Map.of("loop_wait", "ten")))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("loop_wait: expected an integer, got \"ten\"");
    }

    @Test
    void whenNoPartOfTheStoredTripleFitsTheWholeLastTripleStays() {
        HaSettings applied = HaSettings.builder("c", "m1").ttl(Duration.ofSeconds(20)).loopWait(Duration.ofSeconds(4))
                .retryTimeout(Duration.ofSeconds(5)).build();
        DynamicConfigRules.Resolved r = resolve(local, applied,
                Map.of("ttl", 5, "loop_wait", 20, "retry_timeout", 20, "check_timeline", true));

        assertThat(r.settings().ttl()).isEqualTo(Duration.ofSeconds(20));
        assertThat(r.settings().loopWait()).isEqualTo(Duration.ofSeconds(4));
        assertThat(r.settings().retryTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(r.settings().checkTimeline()).isTrue();
        assertThat(r.kept()).containsOnlyKeys("ttl", "loop_wait", "retry_timeout");
    }

    @Test
    void aSingleBadSettingOutsideTheTimingKeepsItsLastValueOnly() {
        DynamicConfigRules.Resolved r = resolve(local, local,
                Map.of("synchronous_node_count", 0, "loop_wait", 5, "primary_start_timeout", 60));

        assertThat(r.settings().synchronousNodeCount()).isEqualTo(1);
        assertThat(r.settings().loopWait()).isEqualTo(Duration.ofSeconds(5));
        assertThat(r.settings().primaryStartTimeout()).isEqualTo(Duration.ofSeconds(60));
        assertThat(r.kept()).containsOnlyKeys("synchronous_node_count");
        assertThat(r.kept().get("synchronous_node_count")).contains("synchronousNodeCount must be >= 1 (got 0)");
    }

    @Test
    void theStoresLeaseGuaranteeIsARuleOnTheWholeCombination() {
        // A store that guarantees 30 s after a renewal: loop_wait 10 + 2*retry_timeout must stay within it.
        DynamicConfigRules.Resolved r = DynamicConfigRules.resolve(local, local,
                GlobalConfig.of(Map.of("ttl", 60, "retry_timeout", 15)).dynamic(),
                s -> s.loopWait().plus(s.retryTimeout().multipliedBy(2)).compareTo(Duration.ofSeconds(30)) > 0
                        ? "beyond the lease guarantee" : null);

        assertThat(r.settings().ttl()).as("ttl alone is fine").isEqualTo(Duration.ofSeconds(60));
        assertThat(r.settings().retryTimeout()).isEqualTo(Duration.ofSeconds(10));
        assertThat(r.kept()).containsOnlyKeys("retry_timeout");
        assertThat(r.kept().get("retry_timeout")).endsWith("beyond the lease guarantee");
    }

    @Test
    void aValidConfigAppliesWholeAndAnAbsentKeyMeansTheLocalValue() {
        HaSettings applied = resolve(local, local, Map.of("ttl", 40, "loop_wait", 5)).settings();
        DynamicConfigRules.Resolved r = resolve(local, applied, Map.of("loop_wait", 5));

        assertThat(r.kept()).isEmpty();
        assertThat(r.settings().ttl()).as("removed from the key: back to the local value")
                .isEqualTo(Duration.ofSeconds(30));
        assertThat(DynamicConfigRules.changes(applied, r.settings())).isEqualTo("ttl 40s -> 30s");
        assertThat(DynamicConfigRules.changes(r.settings(), r.settings())).isEmpty();
    }
}
