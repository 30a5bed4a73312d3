package io.pgha.core.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * A configured value shown as PostgreSQL shows the value in force, for {@code pending_restart_reason}. The expected
 * strings are what {@code SHOW} answers on PostgreSQL 15 for the same settings.
 */
class SettingDisplayTest {

    @Test
    void memoryInBlocksIsShownInTheLargestExactUnit() {
        assertThat(SettingDisplay.of("24MB", "integer", "8kB")).isEqualTo("24MB");
        assertThat(SettingDisplay.of("3072", "integer", "8kB")).as("bare: in the base unit").isEqualTo("24MB");
        assertThat(SettingDisplay.of("24576kB", "integer", "8kB")).isEqualTo("24MB");
        assertThat(SettingDisplay.of(" 1 GB ", "integer", "8kB")).isEqualTo("1GB");
        assertThat(SettingDisplay.of("1.5GB", "integer", "8kB")).isEqualTo("1536MB");
        assertThat(SettingDisplay.of("3", "integer", "8kB")).isEqualTo("24kB");
        assertThat(SettingDisplay.of("16384", "integer", "8kB")).as("shared_buffers' boot value").isEqualTo("128MB");
    }

    @Test
    void otherBaseUnitsAndTimes() {
        assertThat(SettingDisplay.of("1024", "integer", "kB")).isEqualTo("1MB");
        assertThat(SettingDisplay.of("1000", "integer", "kB")).isEqualTo("1000kB");
        assertThat(SettingDisplay.of("2048", "integer", "MB")).isEqualTo("2GB");
        assertThat(SettingDisplay.of("1500", "integer", "B")).isEqualTo("1500B");
        assertThat(SettingDisplay.of("60s", "integer", "ms")).isEqualTo("1min");
        assertThat(SettingDisplay.of("1500", "integer", "ms")).isEqualTo("1500ms");
        assertThat(SettingDisplay.of("90", "integer", "min")).isEqualTo("90min");
        assertThat(SettingDisplay.of("1d", "integer", "s")).isEqualTo("1d");
        assertThat(SettingDisplay.of("2.5", "real", "ms")).isEqualTo("2500us");
        assertThat(SettingDisplay.of("2", "real", "ms")).isEqualTo("2ms");
    }

    @Test
    void zeroAndNegativeValuesAreShownBare() {
        assertThat(SettingDisplay.of("0", "integer", "kB")).isEqualTo("0");
        assertThat(SettingDisplay.of("-1", "integer", "ms")).isEqualTo("-1");
        assertThat(SettingDisplay.of("0MB", "integer", "8kB")).isEqualTo("0");
    }

    @Test
    void numbersWithoutUnitsBooleansAndTheRest() {
        assertThat(SettingDisplay.of("0x10", "integer", null)).isEqualTo("16");
        assertThat(SettingDisplay.of("200", "integer", "")).isEqualTo("200");
        assertThat(SettingDisplay.of("true", "bool", null)).isEqualTo("on");
        assertThat(SettingDisplay.of("Y", "bool", null)).isEqualTo("on");
        assertThat(SettingDisplay.of("of", "bool", null)).isEqualTo("off");
        assertThat(SettingDisplay.of("0", "bool", null)).isEqualTo("off");
        assertThat(SettingDisplay.of("logical", "enum", null)).isEqualTo("logical");
        assertThat(SettingDisplay.of("'$libdir'", "string", null)).isEqualTo("'$libdir'");
    }

    @Test
    void whatPostgresWouldRefuseIsShownAsWritten() {
        assertThat(SettingDisplay.of("24XB", "integer", "8kB")).isEqualTo("24XB");
        assertThat(SettingDisplay.of("5min", "integer", "8kB")).as("a time for a memory setting").isEqualTo("5min");
        assertThat(SettingDisplay.of("12MB", "integer", null)).isEqualTo("12MB");
        assertThat(SettingDisplay.of("maybe", "bool", null)).isEqualTo("maybe");
        assertThat(SettingDisplay.of("o", "bool", null)).as("ambiguous: on or off").isEqualTo("o");
    }
}
