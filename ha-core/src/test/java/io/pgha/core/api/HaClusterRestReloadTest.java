package io.pgha.core.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.Credentials;
import io.pgha.core.config.HostPort;
import io.pgha.core.config.ReloadableSettings;
import io.pgha.core.config.RestEndpoint;
import io.pgha.core.config.RestSettings;
import io.pgha.core.config.Tags;
import io.pgha.core.testkit.FakePostgresNetwork;
import io.pgha.core.testkit.InMemoryDcs;
import io.pgha.core.testkit.ManualClock;
import io.pgha.core.testkit.TestPorts;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 12: the operator's reload moves a member's real REST API (loopback sockets) to a re-read address and
 * publishes the new {@code api_url} in its member key; an address that cannot be bound leaves the API where it is.
 * The HA loop runs on a {@link ManualClock} over test fakes (InMemoryDcs, FakePostgres).
 */
class HaClusterRestReloadTest {

    private static final Credentials ADMIN = new Credentials("admin", "secret");
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private final ManualClock clock = new ManualClock();
    private final InMemoryDcs store = new InMemoryDcs(KeyLayout.of("api"), clock, Duration.ofSeconds(10));
    private final FakePostgresNetwork net = new FakePostgresNetwork(clock, 3);

    @AfterEach
    void stop() {
        clock.killAll();
    }

    @Test
    void aReloadMovesTheRestApiAndPublishesItsNewApiUrl() throws Exception {
        HostPort pg = new HostPort("10.9.0.1", 5432);
        int a = TestPorts.freePort();
        AtomicReference<RestEndpoint> file = new AtomicReference<>(
                new RestEndpoint("127.0.0.1", a, "api-a.internal", ADMIN, false));
        HaCluster node = HaCluster.builder().scope("api").member("a").dcs(store::open)
                .postgres(net.create("a", pg, io.pgha.core.testkit.FakePostgres.Timings.DEFAULT, false), pg)
                .ttl(Duration.ofSeconds(10)).loopWait(Duration.ofSeconds(2)).retryTimeout(Duration.ofSeconds(2))
                .clock(clock).restApi(RestSettings.builder().listen("127.0.0.1", a).credentials(ADMIN).build())
                .restApiConnectHost("api-a.internal")
                .reloadSettingsFrom(() -> new ReloadableSettings(Tags.DEFAULT, Map.of(), List.of(), List.of(),
                        file.get()))
                .build();
        clock.setDefaultGroup("a");
        clock.startThread("start-a", node::start);
        run(Duration.ofSeconds(10));
        assertThat(node.role()).isEqualTo(Role.PRIMARY);
        assertThat(apiUrl()).isEqualTo("http://api-a.internal:" + a + "/patroni");
        assertThat(status(a)).isEqualTo(200);

        int b = TestPorts.freePort();
        file.set(new RestEndpoint("127.0.0.1", b, "api-b.internal", ADMIN, false));
        reload(node);
        assertThat(status(b)).as("the new address answers").isEqualTo(200);
        assertThat(apiUrl()).isEqualTo("http://api-b.internal:" + b + "/patroni");
        awaitRefused(a);

        try (ServerSocket taken = new ServerSocket(TestPorts.freePort(), 1, InetAddress.getLoopbackAddress())) {
            file.set(new RestEndpoint("127.0.0.1", taken.getLocalPort(), "api-b.internal", ADMIN, false));
            reload(node);
            assertThat(status(b)).as("kept where it was").isEqualTo(200);
            assertThat(apiUrl()).isEqualTo("http://api-b.internal:" + b + "/patroni");
        }
        clock.startThread("closer", node::close);
        run(Duration.ofSeconds(2));
    }

    private void reload(HaCluster node) {
        clock.startThread("reload", node::reload);
        run(Duration.ofSeconds(6));
    }

    private String apiUrl() {
        return store.peek().member("a").orElseThrow().apiUrl();
    }

    private void run(Duration d) {
        net.runFor(clock, d);
    }

    /** The status of {@code GET /patroni} on loopback {@code port}; 0 when the connection is refused. */
    private static int status(int port) throws InterruptedException {
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/patroni"))
                    .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException e) {
            return 0;
        }
    }

    /** The old server closes its socket on a thread of its own, right after the new one serves. */
    private static void awaitRefused(int port) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (status(port) != 0) {
            assertThat(System.nanoTime()).as("port " + port + " still answers").isLessThan(deadline);
            Thread.sleep(100);
        }
    }
}
