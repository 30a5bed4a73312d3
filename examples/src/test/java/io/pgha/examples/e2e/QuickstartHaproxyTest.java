package io.pgha.examples.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The quickstart's haproxy.cfg as the end-to-end suite re-points it (the file itself; no HAProxy runs here). */
class QuickstartHaproxyTest {

    @Test
    void repointingChangesOnlyPortsAndServersAndKeepsEveryCheck() throws Exception {
        String file = QuickstartHaproxy.read();
        assertThat(QuickstartHaproxy.binds(file)).containsExactlyInAnyOrderEntriesOf(
                Map.of("stats", 7000, "primary", 5000, "replicas", 5001));

        String cfg = QuickstartHaproxy.repointed(file, Map.of("stats", 27000, "primary", 25000, "replicas", 25001),
                List.of(new QuickstartHaproxy.Server("pg1", 21001, 22001),
                        new QuickstartHaproxy.Server("pg2", 21002, 22002)));

        assertThat(QuickstartHaproxy.binds(cfg)).containsExactlyInAnyOrderEntriesOf(
                Map.of("stats", 27000, "primary", 25000, "replicas", 25001));
        List<String> servers = cfg.lines().map(String::strip).filter(l -> l.startsWith("server ")).toList();
        assertThat(servers).containsExactly(
                "server pg1 127.0.0.1:21001 maxconn 100 check port 22001",
                "server pg2 127.0.0.1:21002 maxconn 100 check port 22002",
                "server pg1 127.0.0.1:21001 maxconn 100 check port 22001",
                "server pg2 127.0.0.1:21002 maxconn 100 check port 22002");
        List<String> kept = file.lines().filter(l -> !l.strip().startsWith("server ")
                && !l.strip().startsWith("bind ")).toList();
        assertThat(cfg.lines().toList()).containsAll(kept)
                .contains("    option httpchk OPTIONS /primary", "    option httpchk OPTIONS /replica");
    }

    @Test
    void aListenSectionWithoutAPortIsAnError() throws Exception {
        assertThatThrownBy(() -> QuickstartHaproxy.repointed(QuickstartHaproxy.read(), Map.of("primary", 1),
                List.of())).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'stats'");
    }
}
