package io.pgha.jdbc;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.spi.DcsFactory;
import io.pgha.dcs.zookeeper.ZooKeeperDcs;
import java.time.Duration;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Malformed settings fail at build(), naming the setting and the rule, before anything is opened. */
@Timeout(30)
class HaDataSourceBuilderTest {

    /** Never opened: every case below fails validation first. */
    private static final DcsFactory NOWHERE = ZooKeeperDcs.connect("127.0.0.1:1");

    private static void refused(UnaryOperator<HaDataSourceBuilder> settings, String... message) {
        HaDataSourceBuilder b = settings.apply(HaDataSource.builder().dcs(NOWHERE, "orders").user("app"));
        var a = assertThatThrownBy(b::build).isInstanceOf(IllegalArgumentException.class);
        for (String m : message) {
            a.hasMessageContaining(m);
        }
    }

    @Test
    void eachMalformedSettingIsNamedWithItsRule() {
        assertThatThrownBy(() -> HaDataSource.builder().user("app").build())
                .hasMessageContaining("source: exactly one of").hasMessageContaining("got 0");
        refused(b -> b.cluster(null).dcs(NOWHERE, " "), "scope must be a non-empty string");
        refused(b -> b.user(null), "user must be a non-empty string (got none)");
        refused(b -> b.database(""), "database must be a non-empty string (got '')");
        refused(b -> b.role(null), "role must be PRIMARY, REPLICA or ANY");
        refused(b -> b.maxLag(null), "maxLag must be set");
        refused(b -> b.leaderWait(Duration.ZERO), "leaderWait must be > 0 (got 0");
        refused(b -> b.refreshInterval(Duration.ofSeconds(-1)), "refreshInterval must be > 0");
        refused(b -> b.drainWait(Duration.ofSeconds(-1)), "drainWait must be >= 0");
        refused(b -> b.leaderWait(Duration.ofSeconds(2)).drainWait(Duration.ofSeconds(3)),
                "drainWait must be <= leaderWait (got 3s > 2s)");
        refused(b -> b.property("targetServerType", "any"), "property targetServerType is set by HaDataSource");
        refused(b -> b.hikari(h -> h.setJdbcUrl("jdbc:postgresql://x/db")), "hikari: jdbcUrl must not be set");
        refused(b -> b.hikari(h -> h.setConnectionTimeout(5000)), "hikari: connectionTimeout must not be set",
                "leaderWait");
        refused(b -> b.hikari(h -> h.setConnectionTestQuery("SELECT 1")), "hikari: connectionTestQuery");
        refused(b -> b.hikari(h -> h.setUsername("x")), "hikari: username/password");
    }
}
