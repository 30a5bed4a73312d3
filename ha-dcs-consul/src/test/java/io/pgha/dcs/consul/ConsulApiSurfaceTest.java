package io.pgha.dcs.consul;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.testkit.ApiSurface;
import org.junit.jupiter.api.Test;

/** What this module shows its users: JDK, ha-core's public packages and its own types, no Jackson types. */
class ConsulApiSurfaceTest {

    @Test
    void publicClassesShowOnlyJdkCoreAndOwnTypes() {
        assertThat(ApiSurface.adapterLeaks("io.pgha.dcs.consul")).as("client library types in the public API").isEmpty();
    }
}
