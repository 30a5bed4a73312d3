package io.pgha.core.spi.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.pgha.core.config.RestTls;
import io.pgha.core.config.TlsClient;
import io.pgha.core.spi.http.HttpTransport.Attempt;
import io.pgha.core.spi.http.HttpTransport.Kind;
import io.pgha.core.testkit.TestCertificates;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The transport against a small HTTP/1.1 server written here, on 127.0.0.1: framing, kept connections, deadlines. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HttpTransportTest {

    private static final long SECOND = TimeUnit.SECONDS.toNanos(1);
    private static final byte[] JSON = "{\"k\":1}".getBytes(StandardCharsets.UTF_8);

    private final List<AutoCloseable> opened = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = opened.size() - 1; i >= 0; i--) {
            opened.get(i).close();
        }
    }

    @Test
    void aContentLengthAnswerIsReadAndItsConnectionKeptForTheNextCall() throws Exception {
        TinyServer s = server(x -> {
            for (Request r = x.read(); r != null; r = x.read()) {
                x.answer(ok("{\"n\":\"" + r.body().length() + "\"}"));
            }
        });
        HttpTransport http = http();
        Attempt a = http.exchange(s.uri(), "POST", "/v3/kv/range", JSON, null, 2 * SECOND, true);
        Attempt b = http.exchange(s.uri(), "POST", "/v3/kv/range", JSON, "tok-1", 2 * SECOND, false);

        assertThat(a.kind()).isEqualTo(Kind.ANSWERED);
        assertThat(a.status()).isEqualTo(200);
        assertThat(new String(a.body(), StandardCharsets.UTF_8)).isEqualTo("{\"n\":\"7\"}");
        assertThat(b.kind()).isEqualTo(Kind.ANSWERED);
        assertThat(s.accepted.get()).as("one connection for both calls").isEqualTo(1);
        Request first = s.requests.get(0);
        assertThat(first.line).isEqualTo("POST /v3/kv/range HTTP/1.1");
        assertThat(first.headers).containsEntry("host", "127.0.0.1:" + s.port())
                .containsEntry("content-type", "application/json").containsEntry("content-length", "7")
                .doesNotContainKey("authorization");
        assertThat(s.requests.get(1).headers).containsEntry("authorization", "tok-1");
        assertThat(first.body).isEqualTo("{\"k\":1}");
    }

    @Test
    void aChunkedAnswerIsDechunkedAndTheConnectionKept() throws Exception {
        TinyServer s = server(x -> {
            for (Request r = x.read(); r != null; r = x.read()) {
                x.answer("HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "5;ext=1\r\n{\"err\r\n" + "b\r\nor\":\"none\"}\r\n" + "0\r\nX-Trailer: t\r\n\r\n");
            }
        });
        HttpTransport http = http();
        for (int i = 0; i < 2; i++) {
            Attempt a = http.exchange(s.uri(), "GET", "/version", null, null, 2 * SECOND, true);
            assertThat(a.kind()).isEqualTo(Kind.ANSWERED);
            assertThat(a.status()).isEqualTo(404);
            assertThat(new String(a.body(), StandardCharsets.UTF_8)).isEqualTo("{\"error\":\"none\"}");
        }
        assertThat(s.accepted.get()).isEqualTo(1);
        assertThat(s.requests.get(0).line).isEqualTo("GET /version HTTP/1.1");
        assertThat(s.requests.get(0).headers).doesNotContainKeys("content-length", "content-type");
    }

    @Test
    void connectionCloseIsHonoured() throws Exception {
        TinyServer s = server(x -> {
            x.read();
            x.answer("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}");
        });
        HttpTransport http = http();
        for (int i = 0; i < 2; i++) {
            assertThat(http.exchange(s.uri(), "POST", "/v3/kv/range", JSON, null, 2 * SECOND, false).kind())
                    .isEqualTo(Kind.ANSWERED);
        }
        assertThat(s.accepted.get()).isEqualTo(2);
        assertThat(http.openConnections()).isZero();
    }

    @Test
    void atMostTwoConnectionsWaitPerEndpointAndNoneLongerThanTheIdleLimit() throws Exception {
        CountDownLatch three = new CountDownLatch(3);
        TinyServer s = server(x -> {
            for (Request r = x.read(); r != null; r = x.read()) {
                three.countDown();
                three.await(5, TimeUnit.SECONDS);
                x.answer(ok("{}"));
            }
        });
        HttpTransport http = new HttpTransport(null, 2 * SECOND, SECOND / 2);
        opened.add(http);
        List<CompletableFuture<Attempt>> calls = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            calls.add(CompletableFuture.supplyAsync(
                    () -> http.exchange(s.uri(), "POST", "/v3/kv/range", JSON, null, 5 * SECOND, true)));
        }
        for (CompletableFuture<Attempt> c : calls) {
            assertThat(c.get(10, TimeUnit.SECONDS).kind()).isEqualTo(Kind.ANSWERED);
        }
        assertThat(s.accepted.get()).as("one connection per concurrent caller").isEqualTo(3);
        assertThat(http.openConnections()).as("two kept").isEqualTo(2);

        http.exchange(s.uri(), "POST", "/v3/kv/range", JSON, null, 2 * SECOND, true);
        assertThat(s.accepted.get()).as("a kept one reused").isEqualTo(3);
        Thread.sleep(700);
        http.exchange(s.uri(), "POST", "/v3/kv/range", JSON, null, 2 * SECOND, true);
        assertThat(s.accepted.get()).as("idle too long: a fresh one").isEqualTo(4);
        assertThat(http.openConnections()).as("the old ones closed").isEqualTo(1);
    }

    @Test
    void anAnswerWithoutLengthRunsToTheEndOfTheConnection() throws Exception {
        TinyServer s = server(x -> {
            x.read();
            x.answer("HTTP/1.1 200 OK\r\n\r\n{\"all\":true}");
        });
        Attempt a = http().exchange(s.uri(), "POST", "/v3/kv/range", JSON, null, 2 * SECOND, false);
        assertThat(new String(a.body(), StandardCharsets.UTF_8)).isEqualTo("{\"all\":true}");
    }

    @Test
    void aKeptConnectionTheServerClosedIsNotUsedForAWrite() throws Exception {
        TinyServer s = server(x -> {
            x.read();
            x.answer(ok("{}"));
            // and close without saying so in the answer: the client keeps the connection
        });
        HttpTransport http = http();
        assertThat(http.exchange(s.uri(), "POST", "/v3/kv/txn", JSON, null, 2 * SECOND, false).kind())
                .isEqualTo(Kind.ANSWERED);
        s.awaitClosedConnections(1);
        Attempt b = http.exchange(s.uri(), "POST", "/v3/kv/txn", JSON, null, 2 * SECOND, false);
        assertThat(b.kind()).as("checked before sending, sent on a fresh one").isEqualTo(Kind.ANSWERED);
        assertThat(s.requests).hasSize(2);
        assertThat(s.accepted.get()).isEqualTo(2);
    }

    @Test
    void aKeptConnectionClosedWhenTheRequestArrivesIsRetriedOnlyWhenIdempotent() throws Exception {
        AtomicInteger connections = new AtomicInteger();
        TinyServer s = server(x -> {
            boolean first = connections.incrementAndGet() == 1;
            x.read();
            x.answer(ok("{}"));
            if (first && x.read() != null) {
                // the server drops the connection as the second request arrives: no answer at all
                return;
            }
            for (Request r = x.read(); r != null; r = x.read()) {
                x.answer(ok("{}"));
            }
        });
        HttpTransport http = http();
        http.exchange(s.uri(), "POST", "/v3/kv/range", JSON, null, 2 * SECOND, true);
        Attempt read = http.exchange(s.uri(), "POST", "/v3/kv/range", JSON, null, 2 * SECOND, true);
        assertThat(read.kind()).as("sent again on a fresh connection").isEqualTo(Kind.ANSWERED);
        assertThat(s.requests).hasSize(3);

        connections.set(0);
        HttpTransport other = http();
        other.exchange(s.uri(), "POST", "/v3/kv/txn", JSON, null, 2 * SECOND, false);
        int before = s.requests.size();
        Attempt write = other.exchange(s.uri(), "POST", "/v3/kv/txn", JSON, null, 2 * SECOND, false);
        assertThat(write.kind()).as("the outcome of the write is unknown").isEqualTo(Kind.NO_ANSWER);
        assertThat(s.requests).as("not sent twice").hasSize(before + 1);
    }

    @Test
    void aServerThatNeverAnswersCostsTheBudgetAndNoMore() throws Exception {
        TinyServer s = server(x -> {
            x.read();
            x.awaitEnd();
        });
        long t0 = System.nanoTime();
        Attempt a = http().exchange(s.uri(), "POST", "/v3/kv/txn", JSON, null, SECOND / 2, false);
        long took = System.nanoTime() - t0;
        assertThat(a.kind()).isEqualTo(Kind.NO_ANSWER);
        assertThat(a.failure()).hasMessage("no answer within 500 ms");
        assertThat(took).isBetween(SECOND / 2 - TimeUnit.MILLISECONDS.toNanos(20), SECOND / 2 + 2 * SECOND);
    }

    @Test
    void anAnswerTricklingInEndsAtTheDeadline() throws Exception {
        TinyServer s = server(x -> {
            x.read();
            x.answer("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
            for (int i = 0; i < 1000 && !x.socket.isClosed(); i++) {
                x.answer("x");
                Thread.sleep(50);
            }
        });
        long t0 = System.nanoTime();
        Attempt a = http().exchange(s.uri(), "POST", "/v3/kv/range", JSON, null, SECOND, true);
        long took = System.nanoTime() - t0;
        assertThat(a.kind()).isEqualTo(Kind.NO_ANSWER);
        assertThat(took).isBetween(SECOND - TimeUnit.MILLISECONDS.toNanos(20), 3 * SECOND);
    }

    @Test
    void aRefusedConnectionIsNotSent() throws Exception {
        int port;
        try (ServerSocket gone = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = gone.getLocalPort();
        }
        Attempt a = http().exchange(URI.create("http://127.0.0.1:" + port), "POST", "/v3/kv/txn", JSON, null,
                2 * SECOND, false);
        assertThat(a.kind()).isEqualTo(Kind.NOT_SENT);
        assertThat(a.failure()).isInstanceOf(java.net.ConnectException.class);
    }

    @Test
    void aStreamIsDechunkedAndDeliversWhatArrivedWithoutWaitingForMore() throws Exception {
        TinyServer s = server(x -> {
            x.read();
            x.answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n{\"a\":1\r\n");
            Thread.sleep(200);
            x.answer("3\r\n}{}\r\n");
            x.awaitEnd();
        });
        HttpTransport http = http();
        Attempt a = http.openStream(s.uri(), "/v3/watch", JSON, null, 2 * SECOND);
        assertThat(a.kind()).isEqualTo(Kind.ANSWERED);
        InputStream in = a.stream();
        byte[] buf = new byte[100];
        assertThat(new String(buf, 0, in.read(buf), StandardCharsets.UTF_8)).isEqualTo("{\"a\":1");
        assertThat(new String(buf, 0, in.read(buf), StandardCharsets.UTF_8)).as("after the answer's deadline too")
                .isEqualTo("}{}");
        in.close();
        assertThatThrownBy(() -> in.read(buf)).isInstanceOf(IOException.class);
        assertThat(s.awaitClosedConnections(1)).as("closing the stream closes the connection").isTrue();
    }

    @Test
    void anErrorAnswerToAStreamIsReadAsABody() throws Exception {
        TinyServer s = server(x -> {
            x.read();
            x.answer("HTTP/1.1 401 Unauthorized\r\nContent-Length: 17\r\n\r\n{\"error\":\"auth\"}\n");
            x.awaitEnd();
        });
        Attempt a = http().openStream(s.uri(), "/v3/watch", JSON, null, 2 * SECOND);
        assertThat(a.stream()).isNull();
        assertThat(a.status()).isEqualTo(401);
        assertThat(new String(a.body(), StandardCharsets.UTF_8)).isEqualTo("{\"error\":\"auth\"}\n");
    }

    @Test
    void closingUnblocksAReaderOfAStreamAndClosingTheStreamToo() throws Exception {
        TinyServer s = server(x -> {
            x.read();
            x.answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            x.awaitEnd();
        });
        HttpTransport http = http();
        InputStream first = http.openStream(s.uri(), "/v3/watch", JSON, null, 2 * SECOND).stream();
        InputStream second = http.openStream(s.uri(), "/v3/watch", JSON, null, 2 * SECOND).stream();
        CompletableFuture<String> r1 = CompletableFuture.supplyAsync(() -> readToEnd(first));
        CompletableFuture<String> r2 = CompletableFuture.supplyAsync(() -> readToEnd(second));
        Thread.sleep(300);
        assertThat(r1).isNotDone();
        second.close();
        assertThat(r2.get(2, TimeUnit.SECONDS)).isNotNull();
        assertThat(r1).isNotDone();
        http.close();
        assertThat(r1.get(2, TimeUnit.SECONDS)).isNotNull();
        assertThat(http.exchange(s.uri(), "GET", "/version", null, null, SECOND, true).kind())
                .isEqualTo(Kind.NOT_SENT);
    }

    @Test
    void closingUnblocksAUnaryCall() throws Exception {
        TinyServer s = server(x -> {
            x.read();
            x.awaitEnd();
        });
        HttpTransport http = http();
        CompletableFuture<Attempt> call = CompletableFuture.supplyAsync(
                () -> http.exchange(s.uri(), "POST", "/v3/kv/txn", JSON, null, 30 * SECOND, false));
        // The request has arrived: the caller now waits for an answer that never comes.
        await().atMost(Duration.ofSeconds(5)).until(() -> s.requests.size() == 1);
        http.close();
        Attempt a = call.get(2, TimeUnit.SECONDS);
        assertThat(a.kind()).isEqualTo(Kind.NO_ANSWER);
        assertThat(a.failure()).hasMessageContaining("closed");
    }

    @Test
    void tlsWithANameCheckAKeptConnectionAndABoundedHandshake() throws Exception {
        TestCertificates certs = TestCertificates.inTempDir();
        opened.add(certs);
        SSLContext serverTls = RestTls.pem().certfile(certs.serverCert).keyfile(certs.serverKey).build().sslContext();
        SSLContext clientTls = TlsClient.builder().cacert(certs.caCert).build().sslContext();
        HttpTransport http = new HttpTransport(clientTls, Duration.ofSeconds(2));
        opened.add(http);

        TinyServer good = tlsServer(serverTls, "127.0.0.1", x -> {
            for (Request r = x.read(); r != null; r = x.read()) {
                x.answer(ok("{}"));
            }
        });
        URI ep = URI.create("https://127.0.0.1:" + good.port());
        for (int i = 0; i < 3; i++) {
            Attempt a = http.exchange(ep, "POST", "/v3/kv/txn", JSON, null, 5 * SECOND, false);
            assertThat(a.kind()).as("%s", a.failure()).isEqualTo(Kind.ANSWERED);
        }
        assertThat(good.accepted.get()).as("the check before a write keeps a live TLS connection usable").isEqualTo(1);

        // The certificate names 127.0.0.1 only, not 127.0.0.2.
        TinyServer otherName = tlsServer(serverTls, "127.0.0.2", x -> x.read());
        Attempt wrongName = http.exchange(URI.create("https://127.0.0.2:" + otherName.port()), "POST", "/v3/kv/txn",
                JSON, null, 5 * SECOND, false);
        assertThat(wrongName.kind()).isEqualTo(Kind.NOT_SENT);
        assertThat(wrongName.failure()).isInstanceOf(SSLHandshakeException.class);

        TinyServer mute = server(TinyConnection::awaitEnd);
        long t0 = System.nanoTime();
        Attempt noHandshake = http.exchange(URI.create("https://127.0.0.1:" + mute.port()), "POST", "/v3/kv/txn",
                JSON, null, SECOND / 2, false);
        assertThat(noHandshake.kind()).isEqualTo(Kind.NOT_SENT);
        assertThat(System.nanoTime() - t0).isLessThan(SECOND / 2 + 2 * SECOND);
    }

    @Test
    void withoutAContextTheDefaultOneIsMadeOnlyForAnHttpsEndpoint() throws Exception {
        TinyServer plain = server(x -> {
            for (Request r = x.read(); r != null; r = x.read()) {
                x.answer(ok("{}"));
            }
        });
        HttpTransport http = http();
        assertThat(http.exchange(plain.uri(), "GET", "/patroni", null, null, 2 * SECOND, true).kind())
                .isEqualTo(Kind.ANSWERED);
        assertThat(http.tlsReady()).as("plain http needs no TLS context").isFalse();

        TestCertificates certs = TestCertificates.inTempDir();
        opened.add(certs);
        SSLContext serverTls = RestTls.pem().certfile(certs.serverCert).keyfile(certs.serverKey).build().sslContext();
        TinyServer tls = tlsServer(serverTls, "127.0.0.1", x -> x.read());
        Attempt a = http.exchange(URI.create("https://127.0.0.1:" + tls.port() + "/patroni"), "GET", "/patroni",
                null, null, 5 * SECOND, true);
        assertThat(http.tlsReady()).isTrue();
        assertThat(a.kind()).isEqualTo(Kind.NOT_SENT);
        assertThat(a.failure()).as("the JDK's default trust does not know the test CA")
                .isInstanceOf(SSLHandshakeException.class);
    }

    // ------------------------------------------------------------------------------------------------ the server

    /** A 200 answer with a Content-Length. */
    private static String ok(String body) {
        return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body;
    }

    private HttpTransport http() {
        HttpTransport h = new HttpTransport(null, Duration.ofSeconds(2));
        opened.add(h);
        return h;
    }

    private TinyServer server(Handler handler) throws IOException {
        TinyServer s = new TinyServer(new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1")), handler);
        opened.add(s);
        return s;
    }

    private TinyServer tlsServer(SSLContext tls, String address, Handler handler) throws IOException {
        SSLServerSocket ss = (SSLServerSocket) tls.getServerSocketFactory().createServerSocket();
        ss.bind(new InetSocketAddress(InetAddress.getByName(address), 0));
        TinyServer s = new TinyServer(ss, handler);
        opened.add(s);
        return s;
    }

    private static String readToEnd(InputStream in) {
        try {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "failed: " + e;
        }
    }

    interface Handler {
        void serve(TinyConnection x) throws Exception;
    }

    record Request(String line, java.util.Map<String, String> headers, String body) {}

    /** One accepted connection; the handler's thread reads requests and writes answers as raw text. */
    static final class TinyConnection {
        final Socket socket;
        private final InputStream in;
        private final OutputStream out;
        private final List<Request> log;

        TinyConnection(Socket socket, List<Request> log) throws IOException {
            this.socket = socket;
            this.in = socket.getInputStream();
            this.out = socket.getOutputStream();
            this.log = log;
        }

        /** The next request, or null when the client closed the connection. */
        Request read() throws IOException {
            String line = line();
            if (line == null) {
                return null;
            }
            java.util.Map<String, String> headers = new java.util.HashMap<>();
            for (String h = line(); h != null && !h.isEmpty(); h = line()) {
                int c = h.indexOf(':');
                headers.put(h.substring(0, c).trim().toLowerCase(Locale.ROOT), h.substring(c + 1).trim());
            }
            int n = Integer.parseInt(headers.getOrDefault("content-length", "0"));
            Request r = new Request(line, headers, new String(in.readNBytes(n), StandardCharsets.UTF_8));
            log.add(r);
            return r;
        }

        void answer(String text) throws IOException {
            out.write(text.getBytes(StandardCharsets.UTF_8));
            out.flush();
        }

        /** Waits until the client closes the connection (or the server is closed). */
        void awaitEnd() throws IOException {
            while (in.read() >= 0) {
                // discard
            }
        }

        private String line() throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            for (int c = in.read(); c != '\n'; c = in.read()) {
                if (c < 0) {
                    return null;
                }
                b.write(c);
            }
            String s = b.toString(StandardCharsets.ISO_8859_1);
            return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
        }
    }

    /** Accepts connections on 127.0.0.1 and serves each on a daemon thread; close() ends them all. */
    static final class TinyServer implements AutoCloseable {
        final AtomicInteger accepted = new AtomicInteger();
        final AtomicInteger closedConnections = new AtomicInteger();
        final List<Request> requests = new CopyOnWriteArrayList<>();
        private final ServerSocket server;
        private final List<Socket> sockets = new CopyOnWriteArrayList<>();

        TinyServer(ServerSocket server, Handler handler) {
            this.server = server;
            Thread t = new Thread(() -> {
                while (!server.isClosed()) {
                    try {
                        Socket s = server.accept();
                        accepted.incrementAndGet();
                        sockets.add(s);
                        Thread c = new Thread(() -> {
                            try (s) {
                                handler.serve(new TinyConnection(s, requests));
                            } catch (Exception e) {
                                // the client went away, or the test is over
                            } finally {
                                closedConnections.incrementAndGet();
                            }
                        }, "tiny-http-connection");
                        c.setDaemon(true);
                        c.start();
                    } catch (IOException e) {
                        // closed
                    }
                }
            }, "tiny-http-accept");
            t.setDaemon(true);
            t.start();
        }

        int port() {
            return server.getLocalPort();
        }

        URI uri() {
            return URI.create("http://127.0.0.1:" + port());
        }

        /** Waits up to 5 s until {@code n} connections ended on the server's side. */
        boolean awaitClosedConnections(int n) throws InterruptedException {
            long until = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while (closedConnections.get() < n && System.nanoTime() < until) {
                Thread.sleep(10);
            }
            // Let the end of the connection reach the client.
            Thread.sleep(50);
            return closedConnections.get() >= n;
        }

        @Override
        public void close() throws IOException {
            server.close();
            for (Socket s : sockets) {
                s.close();
            }
        }
    }
}
