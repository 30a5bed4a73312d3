package io.pgha.core.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.config.ConfigSection;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DcsProvidersTest {

    @Test
    void aStoreWhoseModuleIsMissingIsAnErrorListingTheAvailableOnesAndTheArtifact() {
        // ha-core's own tests have no adapter module on the class path.
        assertThat(DcsProviders.available()).isEmpty();
        assertThatThrownBy(() -> DcsProviders.fromConfig("etcd3", new ConfigSection("etcd3", Map.of())))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("no DCS module for 'etcd3' on the class path (available: none); add io.pgha:ha-dcs-etcd");
        assertThat(DcsProviders.isStoreSection("consul")).isTrue();
        assertThat(DcsProviders.isStoreSection("postgresql")).isFalse();
    }
}
