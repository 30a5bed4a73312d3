package io.pgha.core.internal.rest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.pgha.core.config.Credentials;
import io.pgha.core.config.RestEndpoint;
import io.pgha.core.testkit.TestPorts;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 12: a reload moves the REST API to a changed {@code restapi.listen} (the new socket first, the old one
 * closed after; one that cannot be bound keeps the API where it is), takes changed credentials for the next
 * requests, and publishes the new {@code api_url}. Real sockets on loopback; the ports a test names come from
 * {@link TestPorts} (decision 0703), the API's first one from the system (port 0).
 */
class RestReloadTest {

    private static final Credentials NEW = new Credentials("operator", "rotated-secret");

    private final RestFixture fx = new RestFixture().standard();
    private final List<String> published = new ArrayList<>();

    @AfterEach
    void close() {
        fx.close();
    }

    private RestApi serve() {
        return fx.serve(fx.backend(fx.primary()), RestFixture.rest());
    }

    private RestReload reload(RestApi api) {
        return new RestReload(api, RestEndpoint.of(api.settings(), null), null, "db-1.internal", published::add,
                "demo/m1 - ");
    }

    private static RestEndpoint at(int port, String connectHost, Credentials c) {
        return new RestEndpoint("127.0.0.1", port, connectHost, c, false);
    }

    @Test
    void aChangedListenMovesTheApiAndPublishesTheNewUrl() throws IOException {
        RestApi api = serve();
        int a = api.address().getPort();
        int b = TestPorts.freePort();
        String said = reload(api).apply(at(b, null, RestFixture.CREDENTIALS));

        assertThat(said).contains("restapi.listen 127.0.0.1:" + a + " -> 127.0.0.1:" + b)
                .contains("api_url http://db-1.internal:" + b + "/patroni");
        assertThat(published).containsExactly("http://db-1.internal:" + b + "/patroni");
        assertThat(api.address().getPort()).isEqualTo(b);
        assertThat(new Http("127.0.0.1:" + b).get("/patroni").status()).isEqualTo(200);
        await("the old port refuses connections").atMost(Duration.ofSeconds(10)).until(() -> refuses(a));
    }

    @Test
    void aListenThatCannotBeBoundKeepsTheApiWhereItIsAndSaysSo() throws IOException {
        RestApi api = serve();
        int a = api.address().getPort();
        RestReload r = reload(api);
        int b;
        try (ServerSocket taken = new ServerSocket(TestPorts.freePort(), 1, InetAddress.getLoopbackAddress())) {
            b = taken.getLocalPort();
            String said = r.apply(at(b, null, NEW));

            assertThat(said).contains("restapi.listen: cannot bind 127.0.0.1:" + taken.getLocalPort() + " (")
                    .contains("; keeping 127.0.0.1:" + a)
                    .as("the rest is taken").contains("restapi.authentication now user operator");
            assertThat(published).isEmpty();
            assertThat(Http.anonymous(api).get("/patroni").status()).isEqualTo(200);
            assertThat(api.address().getPort()).isEqualTo(a);
        }
        // The next reload tries again: the port is free now.
        String again = r.apply(at(b, null, NEW));
        assertThat(again).contains("restapi.listen 127.0.0.1:" + a + " -> 127.0.0.1:" + b);
        assertThat(api.address().getPort()).isEqualTo(b);
    }

    @Test
    void anotherAddressOnTheSamePortIsSwappedIn() throws IOException {
        RestApi api = fx.serve(fx.backend(fx.primary()), RestFixture.rest());
        int a = api.address().getPort();
        // 127.0.0.1:a is bound; the wildcard on the same port cannot be bound beside it.
        String said = reload(api).apply(new RestEndpoint("0.0.0.0", a, null, RestFixture.CREDENTIALS, false));

        assertThat(said).contains("restapi.listen 127.0.0.1:" + a + " -> 0.0.0.0:" + a);
        assertThat(api.address().getAddress().isAnyLocalAddress()).isTrue();
        assertThat(Http.anonymous(api).get("/patroni").status()).isEqualTo(200);
        assertThat(published).as("the published url has the same host and port").isEmpty();
    }

    @Test
    void changedCredentialsApplyToTheNextRequests() {
        RestApi api = serve();
        HttpPeerClient peers = new HttpPeerClient("demo", "m1", RestFixture.CREDENTIALS, null);
        RestReload r = new RestReload(api, RestEndpoint.of(api.settings(), null), peers, "db-1.internal",
                published::add, "demo/m1 - ");
        Http old = Http.anonymous(api).withAuth(RestFixture.CREDENTIALS);
        assertThat(old.delete("/switchover").status()).isNotEqualTo(401);

        String said = r.apply(at(0, null, NEW));

        assertThat(said).isEqualTo("REST API: restapi.authentication now user operator");
        assertThat(old.delete("/switchover").status()).isEqualTo(401);
        assertThat(Http.anonymous(api).withAuth(NEW).delete("/switchover").status()).isNotEqualTo(401);
        assertThat(peers.toString()).as("the peers are sent the new ones").contains("username=operator");
        assertThat(r.apply(at(0, null, NEW))).as("nothing changed").isNull();
        peers.close();
    }

    @Test
    void aChangedConnectHostIsPublished() {
        RestApi api = serve();
        int a = api.address().getPort();

        String said = reload(api).apply(at(0, "api-1.internal", RestFixture.CREDENTIALS));

        assertThat(said).isEqualTo("REST API: api_url http://api-1.internal:" + a + "/patroni");
        assertThat(published).containsExactly("http://api-1.internal:" + a + "/patroni");
    }

    @Test
    void aClosedApiCannotBeMoved() {
        RestApi api = serve();
        api.close();
        assertThatThrownBy(() -> api.rebind("127.0.0.1", 0)).isInstanceOf(IllegalStateException.class);
    }

    private static boolean refuses(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 2000);
            return false;
        } catch (ConnectException e) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
