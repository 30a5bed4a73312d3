package io.pgha.examples.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 12: Patroni's PATRONI_* environment variables over the agent's YAML file. */
class PatroniEnvironmentTest {

    private static final String FILE = AgentConfigTest.MEMBER;

    @TempDir
    Path dir;

    private Path file(String text) throws Exception {
        Path f = dir.resolve("member.yaml");
        Files.writeString(f, text);
        return f;
    }

    @Test
    void variablesWinOverTheFile() throws Exception {
        AgentConfig c = AgentConfig.load(file(FILE), Map.of("PATRONI_NAME", "db-9", "PATRONI_SCOPE", "billing",
                "PATRONI_NAMESPACE", "/pg", "PATRONI_ZOOKEEPER_HOSTS", "127.0.0.1:2182,127.0.0.1:2183",
                "PATRONI_UNRELATED", "ignored"));
        assertThat(c.cluster().name()).isEqualTo("db-9");
        assertThat(c.cluster().settings().scope()).isEqualTo("billing");
        assertThat(c.cluster().settings().namespace()).isEqualTo("/pg");
        assertThat(c.store()).isEqualTo("zookeeper");
        assertThat(c.warnings()).isEmpty();
    }

    @Test
    void nestedSettingsAreCreatedWhereTheFileHasNoneAndTheFileIsNotChanged() {
        Map<String, Object> doc = Map.of("scope", "orders", "postgresql", Map.of("listen", "127.0.0.1:5432"));
        Map<String, Object> out = PatroniEnvironment.apply(doc, Map.of("PATRONI_SUPERUSER_PASSWORD", "pw",
                "PATRONI_POSTGRESQL_DATA_DIR", "/srv/pg", "PATRONI_ETCD3_HOSTS", "e1:2379,e2:2379",
                "PATRONI_RESTAPI_USERNAME", "admin"));
        assertThat(out).containsEntry("scope", "orders");
        assertThat(out.get("postgresql")).isEqualTo(Map.of("listen", "127.0.0.1:5432", "data_dir", "/srv/pg",
                "authentication", Map.of("superuser", Map.of("password", "pw"))));
        assertThat(out.get("etcd3")).isEqualTo(Map.of("hosts", "e1:2379,e2:2379"));
        assertThat(out.get("restapi")).isEqualTo(Map.of("authentication", Map.of("username", "admin")));
        assertThat(doc.get("postgresql")).isEqualTo(Map.of("listen", "127.0.0.1:5432"));
        assertThat(PatroniEnvironment.applied(Map.of("PATRONI_SCOPE", "x", "PATRONI_UNRELATED", "y", "HOME", "/")))
                .isEqualTo(List.of("PATRONI_SCOPE"));
    }

    @Test
    void patroniConfigurationReplacesTheFileAndEveryOtherVariable() throws Exception {
        AgentConfig c = AgentConfig.load(null, Map.of(PatroniEnvironment.WHOLE, FILE, "PATRONI_NAME", "db-9"));
        assertThat(c.cluster().name()).as("other variables are not considered, as in Patroni").isEqualTo("db-1");
        assertThat(c.cluster().settings().scope()).isEqualTo("orders");
    }

    @Test
    void aVariableThatCannotBePlacedOrAStoreTwiceIsAClearError() throws Exception {
        String flat = FILE.replace("restapi:\n  listen: 127.0.0.1:18008\n  connect_address: 127.0.0.1:18008\n"
                + "  authentication: {username: admin, password: secret}\n", "restapi: off\n");
        assertThatThrownBy(() -> AgentConfig.load(file(flat), Map.of("PATRONI_RESTAPI_LISTEN", "0.0.0.0:8008")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("PATRONI_RESTAPI_LISTEN sets restapi.listen, but 'restapi' in the file is not a mapping");
        assertThatThrownBy(() -> AgentConfig.load(file(FILE), Map.of("PATRONI_ETCD3_HOSTS", "127.0.0.1:2379")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("configure one store");
        assertThatThrownBy(() -> AgentConfig.load(null, Map.of("PATRONI_NAME", "db-9")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("cannot read the configuration file null");
    }
}
