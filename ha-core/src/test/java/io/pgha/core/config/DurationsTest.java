package io.pgha.core.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class DurationsTest {

    @Test
    void patronisTimesWithAUnitAreParsedAndAnythingElseIsEmpty() {
        assertThat(Durations.parseWithUnit("30")).contains(Duration.ofSeconds(30));
        assertThat(Durations.parseWithUnit(" 1.5 ")).contains(Duration.ofMillis(1500));
        assertThat(Durations.parseWithUnit("500ms")).contains(Duration.ofMillis(500));
        assertThat(Durations.parseWithUnit("30min")).contains(Duration.ofMinutes(30));
        assertThat(Durations.parseWithUnit("1h")).contains(Duration.ofHours(1));
        assertThat(Durations.parseWithUnit("2d")).contains(Duration.ofDays(2));
        assertThat(Durations.parseWithUnit("soon")).isEmpty();
        assertThat(Durations.parseWithUnit("-5s")).isEmpty();
        assertThat(Durations.parseWithUnit("5 weeks")).isEmpty();
    }
}
