package io.pgha.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The URL form: what parses, and what is refused with the part and the rule named. */
@Timeout(30)
class PghaUrlTest {

    @Test
    void validFormsParseWithDefaultPorts() {
        PghaUrl u = PghaUrl.parse("jdbc:pgha:zookeeper://zk1:2181,zk2,[::1]:2182/orders/app%20db?role=replica"
                + "&maxLagBytes=1048576&sslmode=require");
        assertThat(u.source()).isEqualTo("zookeeper");
        assertThat(u.hosts()).containsExactly("zk1:2181", "zk2:2181", "[::1]:2182");
        assertThat(u.scope()).isEqualTo("orders");
        assertThat(u.database()).isEqualTo("app db");
        assertThat(u.query()).isEqualTo(Map.of("role", "replica", "maxLagBytes", "1048576", "sslmode", "require"));
        assertThat(PghaUrl.parse("jdbc:pgha:etcd://e1/s/d").hosts()).containsExactly("e1:2379");
        assertThat(PghaUrl.parse("jdbc:pgha:consul://c1/s/d").hosts()).containsExactly("c1:8500");
        assertThat(PghaUrl.parse("jdbc:pgha:rest://h1,h2:9008/s/d").hosts()).containsExactly("h1:8008", "h2:9008");
        assertThat(PghaUrl.parse("jdbc:pgha:rest://h1/s/d?password=a+b").query()).containsEntry("password", "a+b");
        assertThat(PghaUrl.parse("jdbc:pgha:rest://h1/s/d").query()).isEmpty();
    }

    @Test
    void malformedUrlsNameThePartAndTheRule() {
        Map<String, List<String>> cases = Map.ofEntries(
                Map.entry("jdbc:pgha:zookeeper:/zk1/s/d", List.of("source: expected <source>://")),
                Map.entry("jdbc:pgha:mysql://h/s/d", List.of("source: 'mysql' is not one of zookeeper, etcd")),
                Map.entry("jdbc:pgha:etcd:///s/d", List.of("hosts: a comma-separated list of host[:port]")),
                Map.entry("jdbc:pgha:etcd://e1,,e2/s/d", List.of("hosts: a comma-separated list", "none empty")),
                Map.entry("jdbc:pgha:etcd://e1:70000/s/d", List.of("hosts: a port must be a number from 1 to 65535",
                        "'e1:70000'")),
                Map.entry("jdbc:pgha:etcd://e1:x/s/d", List.of("hosts: a port must be a number")),
                Map.entry("jdbc:pgha:etcd://u@e1/s/d", List.of("hosts: host[:port] with a host name, no user info")),
                Map.entry("jdbc:pgha:etcd://[::1/s/d", List.of("hosts: an IPv6 address must be closed with ]")),
                Map.entry("jdbc:pgha:etcd://e1/orders", List.of("path: expected /<scope>/<database>",
                        "(got '/orders')")),
                Map.entry("jdbc:pgha:etcd://e1", List.of("path: expected /<scope>/<database>")),
                Map.entry("jdbc:pgha:etcd://e1/s/d/x", List.of("path: expected /<scope>/<database>")),
                Map.entry("jdbc:pgha:etcd://e1//d", List.of("path: expected /<scope>/<database>")),
                Map.entry("jdbc:pgha:etcd://e1/s/d?role", List.of("query: each parameter must be key=value")),
                Map.entry("jdbc:pgha:etcd://e1/s/d?role=any&role=primary", List.of("query: parameter 'role' is "
                        + "given twice")),
                Map.entry("jdbc:pgha:etcd://e1/s%zz/d", List.of("scope: bad percent-encoding")));
        cases.forEach((url, message) -> {
            var a = assertThatThrownBy(() -> PghaUrl.parse(url)).as(url).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("malformed pgha URL, ");
            message.forEach(a::hasMessageContaining);
        });
        assertThatThrownBy(() -> PghaUrl.parse("jdbc:pgha:etcd://e1/s?password=secret"))
                .hasMessageContaining("password=***").hasMessageNotContaining("secret");
    }

    @Test
    void theDriverIsFoundByServiceLoaderAndRefusesBadUrlsAndPropertiesWith22023() throws Exception {
        assertThat(DriverManager.getDriver("jdbc:pgha:etcd://e1/s/d")).isInstanceOf(PghaDriver.class);
        Properties p = new Properties();
        p.setProperty("user", "app");
        expect22023("jdbc:pgha:etcd://e1/orders", p, "path: expected /<scope>/<database>");
        expect22023("jdbc:pgha:etcd://e1/s/d?role=writer", p, "role must be primary, replica or any (got 'writer')");
        expect22023("jdbc:pgha:etcd://e1/s/d?leaderWait=30", p, "property leaderWait must be a duration",
                "e.g. 30s (got '30')");
        expect22023("jdbc:pgha:etcd://e1/s/d?maxLagBytes=-1", p, "property maxLagBytes must be a whole number of "
                + "bytes >= 0");
        expect22023("jdbc:pgha:etcd://e1/s/d?leaderWait=0s", p, "leaderWait must be > 0");
        expect22023("jdbc:pgha:etcd://e1/s/d?targetServerType=any", p, "property targetServerType is set by "
                + "HaDataSource");
        expect22023("jdbc:pgha:etcd://e1/s/d?restPollInterval=1s", p, "restPollInterval applies to "
                + "jdbc:pgha:rest:// only");
        expect22023("jdbc:pgha:rest://h1/s/d?dcs.username=x", p, "dcs.* settings apply to a store URL");
        expect22023("jdbc:pgha:rest://h1/s/d?restUser=x", p, "restUser and restPassword must be given together");
        expect22023("jdbc:pgha:rest://h1/s/d?restScheme=ftp", p, "restScheme must be http or https");
        expect22023("jdbc:pgha:etcd://e1/s/d?dcs.hosts=e2", p, "the store's address comes from the URL");
        expect22023("jdbc:pgha:etcd://e1/s/d?dcs.colour=blue", p, "dcs.colour: not a setting of the etcd store");
        expect22023("jdbc:pgha:consul://c1,c2/s/d", p, "takes one agent address (got 2)");
        expect22023("jdbc:pgha:etcd://e1/s/d?user=other", p, "property user is given in the URL and in the "
                + "properties with different values");
        // ha-dcs-consul is not on this module's class path: the error says what to add.
        expect22023("jdbc:pgha:consul://c1/s/d", p, "no DCS module for 'consul'", "add io.pgha:ha-dcs-consul");
        expect22023("jdbc:pgha:etcd://e1/s/d", new Properties(), "user must be a non-empty string");
        assertThat(new PghaDriver().connect("jdbc:postgresql://h/db", p)).as("not ours: null").isNull();
    }

    private static void expect22023(String url, Properties p, String... message) {
        var a = assertThatThrownBy(() -> DriverManager.getConnection(url, p)).as(url)
                .isInstanceOf(SQLException.class)
                .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo(PghaDriver.INVALID));
        for (String m : message) {
            a.hasMessageContaining(m);
        }
    }
}
