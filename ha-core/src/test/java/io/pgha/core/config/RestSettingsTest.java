package io.pgha.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class RestSettingsTest {

    @Test
    void withoutCredentialsTheSettingsDoNotBuild() {
        assertThatThrownBy(() -> RestSettings.builder().listen("0.0.0.0", 8008).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("REST credentials are required")
                .hasMessageContaining("0.0.0.0:8008")
                .hasMessageContaining("POST /switchover")
                .hasMessageContaining("credentials(username, password)")
                .hasMessageContaining("allowUnauthenticated()");
    }

    @Test
    void credentialsOrTheExplicitOptOutButNotBoth() {
        RestSettings secured = RestSettings.builder().credentials("admin", "s3cret").build();
        assertThat(secured.credentials()).isEqualTo(new Credentials("admin", "s3cret"));
        assertThat(secured.allowUnauthenticated()).isFalse();

        RestSettings open = RestSettings.builder().allowUnauthenticated().build();
        assertThat(open.credentials()).isNull();
        assertThat(open.allowUnauthenticated()).isTrue();

        assertThatThrownBy(() -> RestSettings.builder().credentials("admin", "s3cret").allowUnauthenticated().build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("credentials and allowUnauthenticated() exclude each other");
        assertThatThrownBy(() -> RestSettings.builder().credentials("ad:min", "x"))
                .hasMessageContaining("must not contain ':'");
    }
}
