package io.pgha.examples.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.examples.e2e.SoakResults.LeaderChange;
import io.pgha.examples.e2e.SoakResults.Observation;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The soak run's argument parser and its leader-change and gap arithmetic, on synthetic data (no cluster). */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SoakArgsTest {

    @Test
    void explicitTimingsAreReadWithTheirUnits() {
        SoakArgs a = SoakArgs.parse("etcd", "ttl=2s,loopWait=1s,retryTimeout=500ms", "30m", "stress-ng");
        assertThat(a.timings()).isEqualTo(new StoreUnderTest.Timings(Duration.ofSeconds(2), Duration.ofSeconds(1),
                Duration.ofMillis(500)));
        assertThat(a.length()).isEqualTo(Duration.ofMinutes(30));
        assertThat(SoakArgs.timings("etcd", "retryTimeout=1.5s, ttl=4s ,loopWait=250ms")).isEqualTo(
                new StoreUnderTest.Timings(Duration.ofSeconds(4), Duration.ofMillis(250), Duration.ofMillis(1500)));
    }

    @Test
    void profileNamesAreFailoverBenchmarksOwn() {
        assertThat(SoakArgs.parse("etcd", "fast", "90s", "none").timings())
                .isEqualTo(FailoverBenchmark.timings("etcd", "fast"));
        assertThat(SoakArgs.parse("zookeeper", "default", "1h", "none").length()).isEqualTo(Duration.ofHours(1));
    }

    @Test
    void badArgumentsNameTheSettingAndTheRule() {
        assertThatThrownBy(() -> SoakArgs.timings("etcd", "ttl=2s,loopWait=1s"))
                .hasMessageContaining("retryTimeout is missing");
        assertThatThrownBy(() -> SoakArgs.timings("etcd", "ttl=2s,loopWait=1s,retryTimeout=500ms,ttl=3s"))
                .hasMessageContaining("ttl must be given once");
        assertThatThrownBy(() -> SoakArgs.timings("etcd", "ttl=2,loopWait=1s,retryTimeout=500ms"))
                .hasMessageContaining("profile ttl must be a number with a unit");
        assertThatThrownBy(() -> SoakArgs.timings("etcd", "ttl=2s,loop_wait=1s,retryTimeout=500ms"))
                .hasMessageContaining("unknown setting 'loop_wait'");
        assertThatThrownBy(() -> SoakArgs.timings("etcd", "ttl=0.5ms,loopWait=1s,retryTimeout=500ms"))
                .hasMessageContaining("whole number of milliseconds");
        assertThatThrownBy(() -> SoakArgs.parse("etcd", "fast", "5s", "none"))
                .hasMessageContaining("duration must be at least 10s");
        assertThatThrownBy(() -> SoakArgs.parse("etcd", "fast", "30m", "busy"))
                .hasMessageContaining("load must be stress-ng or none");
        assertThatThrownBy(() -> SoakArgs.parse("consul", "fast", "30m", "none"))
                .hasMessageContaining("store must be etcd or zookeeper");
        assertThatThrownBy(() -> SoakArgs.parse("etcd", "fast", "30m"))
                .hasMessageContaining("expected 4 arguments, got 3");
        assertThatThrownBy(() -> SoakArgs.parse("etcd", "quick", "30m", "none"))
                .hasMessageContaining("profile must be default, fast");
    }

    @Test
    void aChangedHolderIsAFailoverAndANewEpochOfTheSameHolderARequisition() {
        List<LeaderChange> changes = SoakResults.changes(List.of(
                new Observation(0, "08:00:00", "pg1", 7),
                new Observation(10, "08:00:10", "pg1", 9),
                new Observation(20, "08:00:20", "", 0),
                new Observation(21, "08:00:21", "pg2", 11),
                new Observation(30, "08:00:30", "", 0),
                new Observation(31, "08:00:31", "pg2", 12)));
        assertThat(changes).extracting(LeaderChange::kind)
                .containsExactly("re-acquired", "key gone", "failover", "key gone", "re-acquired");
        assertThat(changes.get(2)).isEqualTo(new LeaderChange(21, "08:00:21", "failover", "pg1", "pg2"));
        assertThat(SoakResults.count(changes, "failover")).isEqualTo(1);
        assertThat(SoakResults.changes(List.of(new Observation(0, "08:00:00", "pg1", 7)))).isEmpty();
    }

    @Test
    void theLongestGapCountsTheEndOfTheRunAsACommit() {
        SoakResults.WriterSummary w = SoakResults.writer("w", List.of(0.0, 0.02, 1.52, 1.54), 3, List.of(), 2.0);
        assertThat(w.longestGapMs()).isCloseTo(1500, org.assertj.core.api.Assertions.within(0.001));
        assertThat(w.longestGapAtS()).isEqualTo(0.02);
        assertThat(w.gapsOver500ms()).hasSize(1);
        SoakResults.WriterSummary stopped = SoakResults.writer("w", List.of(0.0, 0.02), 0, List.of(), 10.0);
        assertThat(stopped.longestGapMs()).isCloseTo(9980, org.assertj.core.api.Assertions.within(0.001));
    }

    @Test
    void metricsTextGivesFencesAndDecisions() {
        SoakBenchmark.Metrics m = SoakBenchmark.Metrics.parse("""
                # TYPE pgha_ha_decisions_total counter
                pgha_ha_decisions_total{scope="s",name="pg1",kind="none"} 120
                pgha_ha_decisions_total{scope="s",name="pg1",kind="acquire_leader"} 1
                # TYPE pgha_fences_total counter
                pgha_fences_total{scope="s",name="pg1"} 2
                """);
        assertThat(m.fences()).isEqualTo(2);
        assertThat(m.decisions()).containsEntry("none", 120L).containsEntry("acquire_leader", 1L);
    }

    @Test
    void fenceLinesAreTheFencesNotTheWarningsBeforeThem() {
        assertThat(List.of(
                "07:53:18.977 [g] WARN LeaseGuard - c/pg2 - lease deadline passed without a confirmed renewal:"
                        + " fencing postgres",
                "07:53:18.978 [g] INFO LocalPostgres - pg2 - fenced (no postmaster was running)",
                "07:53:25.116 [g] WARN LocalPostgres - pg2 - fenced: postmaster pid 1 stopped, writable starts"
                        + " refused until unfenced",
                "07:53:16.504 [k] WARN LeaseKeeper - c/pg2 - lease renewal failed (1 in a row): x; the guard fences"
                        + " in 569ms unless one is confirmed",
                "07:53:34.878 [l] INFO LocalPostgres - pg2 - unfenced"))
                .filteredOn(l -> SoakBenchmark.FENCE_LINE.matcher(l).find()).hasSize(3);
    }
}
