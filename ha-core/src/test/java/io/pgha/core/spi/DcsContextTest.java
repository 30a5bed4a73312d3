package io.pgha.core.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.time.SystemHaClock;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class DcsContextTest {

    private static DcsContext named(String member) {
        return new DcsContext(KeyLayout.of("orders"), member, Duration.ofSeconds(30), Duration.ofSeconds(10),
                SystemHaClock.INSTANCE);
    }

    @Test
    void aMemberNameThatCannotBeAKeyIsRefusedForEveryStore() {
        // The name becomes members/<name> in every store: a '/' would put the key somewhere else.
        assertThatThrownBy(() -> named("db/1")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("member name must be non-empty and contain no '/' (it becomes the key members/<name> in "
                        + "the store; got 'db/1')");
        assertThatThrownBy(() -> named(" ")).hasMessageContaining("got ' '");
        assertThat(named("db-1").memberName()).isEqualTo("db-1");
    }
}
