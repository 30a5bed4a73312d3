package io.pgha.core.internal.rest;

import static io.pgha.core.internal.rest.RestFixture.M3_POSITION;
import static io.pgha.core.internal.rest.RestFixture.OPTIME;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.pgha.core.internal.ha.PeerStatus;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The HTTP plumbing of {@link RestApi}: lifecycle, overload, limits, paths and queries. */
class RestApiServerTest {

    private final RestFixture fx = new RestFixture().standard();

    @AfterEach
    void close() {
        fx.close();
    }

    @Test
    void bindKnowsThePortBeforeServingAndStartsOnce() throws IOException {
        try (RestApi api = RestApi.bind(RestFixture.rest().listen("127.0.0.1", 0).build())) {
            int port = api.address().getPort();
            assertThat(port).isPositive();
            assertThat(api.apiUrl("db-1.internal")).isEqualTo("http://db-1.internal:" + port + "/patroni");
            assertThat(api.apiUrl("::1")).isEqualTo("http://[::1]:" + port + "/patroni");

            TestBackend b = fx.backend(fx.primary());
            api.start(b);
            assertThat(Http.to(api).get("/patroni").status()).isEqualTo(200);
            assertThatThrownBy(() -> api.start(b)).isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void aFullPoolClosesNewConnectionsInsteadOfQueueingThem() throws Exception {
        TestBackend b = fx.backend(fx.primary());
        b.peers(Map.of("m2", new PeerStatus("m2", true, true, OPTIME, 2, false, 1),
                "m3", new PeerStatus("m3", true, true, M3_POSITION, 2, false, 1)));
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        b.afterFailoverWrite(() -> {
            entered.countDown();
            try {
                release.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        RestApi api = fx.serve(b, RestFixture.rest().threads(1).queueSize(1)
                .switchoverTimeout(Duration.ofMillis(200)).switchoverPoll(Duration.ofMillis(20)));
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        URI base = URI.create("http://127.0.0.1:" + api.address().getPort());

        CompletableFuture<HttpResponse<String>> busy = client.sendAsync(HttpRequest.newBuilder(base.resolve(
                "/switchover")).header("Authorization", RestFixture.CREDENTIALS.header())
                .POST(HttpRequest.BodyPublishers.ofString("{\"leader\":\"m1\"}"))
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(entered.await(10, TimeUnit.SECONDS)).as("the only thread is busy").isTrue();
        List<CompletableFuture<HttpResponse<String>>> more = List.of(get(client, base), get(client, base));
        await("one waits in the queue, the other is turned away").atMost(Duration.ofSeconds(10))
                .until(() -> more.stream().filter(CompletableFuture::isCompletedExceptionally).count() == 1);
        assertThat(more.stream().filter(CompletableFuture::isDone).count()).isEqualTo(1);

        release.countDown();
        assertThat(busy.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(503);
        CompletableFuture<HttpResponse<String>> queued = more.stream().filter(f -> !f.isCompletedExceptionally())
                .findFirst().orElseThrow();
        assertThat(queued.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        assertThat(Http.to(api).get("/patroni").status()).as("serving normally again").isEqualTo(200);
    }

    private static CompletableFuture<HttpResponse<String>> get(HttpClient client, URI base) {
        // A fresh client per request: a shared one would queue both behind the busy connection's pool slot.
        HttpClient own = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        return own.sendAsync(HttpRequest.newBuilder(base.resolve("/patroni")).timeout(Duration.ofSeconds(30))
                .build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void oversizedAndMalformedBodiesAreRefused() {
        Http http = Http.to(fx.serve(fx.backend(fx.primary()), RestFixture.rest().maxBodyBytes(64)));

        Http.Resp big = http.patch("/config", "{\"postgresql\":{\"parameters\":{\"work_mem\":\"" + "x".repeat(100)
                + "\"}}}");
        assertThat(big.status()).isEqualTo(413);
        assertThat(fx.store.peek().config().postgresParameters()).doesNotContainKey("work_mem");
        assertThat(http.patch("/config", "{\"loop_wait\": 5}").status()).isEqualTo(200);
    }

    @Test
    void pathsAndQueriesAreNormalised() {
        assertThat(RestApi.normalize("/primary/")).isEqualTo("/primary");
        assertThat(RestApi.normalize("//")).isEqualTo("/");
        assertThat(RestApi.normalize("")).isEqualTo("/");
        assertThat(RestApi.query("lag=16kB&tag_zone=eu%20west&lag=1&flag")).containsExactly(
                Map.entry("lag", "16kB"), Map.entry("tag_zone", "eu west"), Map.entry("flag", ""));
        assertThat(RestApi.query(null)).isEmpty();
    }
}
