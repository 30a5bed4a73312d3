package io.pgha.core.internal.ha;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The lease guard's own division gives exactly what {@link Duration#dividedBy(long)} gives (issue 11). */
class LeaseGuardDivisionTest {

    @Test
    void divisionMatchesTheJdksForPositiveNegativeAndHugeDurations() {
        List<Duration> samples = List.of(Duration.ZERO, Duration.ofNanos(1), Duration.ofNanos(-1),
                Duration.ofMillis(29_999), Duration.ofSeconds(30), Duration.ofSeconds(-7, 3),
                Duration.ofSeconds(10).minus(Duration.ofNanos(1)), Duration.ofNanos(Long.MAX_VALUE),
                Duration.ofNanos(Long.MIN_VALUE), Duration.ofSeconds(Long.MAX_VALUE / 2),
                Duration.ofSeconds(Long.MIN_VALUE / 2, 999_999_999));
        for (Duration d : samples) {
            for (long by : new long[] {1, 2, 3, 7, 10}) {
                assertThat(LeaseGuard.divided(d, by)).as("%s / %d", d, by).isEqualTo(d.dividedBy(by));
            }
        }
    }

    @Test
    void marginKeepsItsValues() {
        assertThat(LeaseGuard.margin(Duration.ofSeconds(30))).isEqualTo(Duration.ofSeconds(2));
        assertThat(LeaseGuard.margin(Duration.ofSeconds(10))).isEqualTo(Duration.ofSeconds(1));
        assertThat(LeaseGuard.margin(Duration.ofMillis(3_333))).isEqualTo(Duration.ofMillis(500));
        assertThat(LeaseGuard.margin(Duration.ofMillis(7_777))).isEqualTo(Duration.ofNanos(777_700_000));
    }
}
