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

    /** Issue 12: what a reload takes of the REST settings is checked by the same rules. */
    @Test
    void theReloadablePartFollowsTheSameRules() {
        RestSettings s = RestSettings.builder().listen("::1", 8008).credentials("admin", "s3cret").build();
        RestEndpoint e = RestEndpoint.of(s, "api-1.internal");
        assertThat(e).isEqualTo(new RestEndpoint("::1", 8008, "api-1.internal", new Credentials("admin", "s3cret"),
                false));
        assertThat(e.listen()).isEqualTo("[::1]:8008");

        assertThatThrownBy(() -> new RestEndpoint("0.0.0.0", 8008, null, null, false))
                .hasMessageContaining("REST credentials are required");
        assertThatThrownBy(() -> new RestEndpoint("0.0.0.0", 70000, null, null, true))
                .hasMessageContaining("REST port must be 0..65535");
        assertThatThrownBy(() -> new RestEndpoint("0.0.0.0", 8008, " ", null, true))
                .hasMessageContaining("connect host must not be blank");
    }
}
