package io.pgha.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import io.pgha.core.config.RestTls;
import io.pgha.core.config.TlsClient;
import io.pgha.core.config.VerifyClient;
import io.pgha.core.testkit.TestCertificates;
import io.pgha.core.testkit.TestPorts;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLParameters;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The REST-URL source against an {@code https://} REST API that demands a client certificate (real TLS handshakes,
 * certificates made by openssl): with the CA and a client certificate it follows {@code /cluster}; without them it
 * gets no answer and says why.
 */
@Timeout(120)
class RestSourceTlsTest {

    private static TestCertificates certs;
    private static HttpsServer server;
    private static final AtomicInteger answered = new AtomicInteger();

    @BeforeAll
    static void serve() throws Exception {
        certs = TestCertificates.inTempDir();
        RestTls tls = RestTls.pem().certfile(certs.serverCert).keyfile(certs.serverKey).cafile(certs.caCert)
                .verifyClient(VerifyClient.REQUIRED).build();
        server = HttpsServer.create(new InetSocketAddress("127.0.0.1", TestPorts.freePort()), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(tls.sslContext()) {
            @Override
            public void configure(HttpsParameters params) {
                SSLParameters p = getSSLContext().getDefaultSSLParameters();
                p.setNeedClientAuth(true);
                params.setSSLParameters(p);
            }
        });
        server.createContext("/cluster", RestSourceTlsTest::answer);
        server.start();
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.stop(0);
        }
        if (certs != null) {
            certs.close();
        }
    }

    private static void answer(HttpExchange ex) throws IOException {
        answered.incrementAndGet();
        byte[] body = ("{\"members\": [{\"name\": \"a\", \"role\": \"leader\", \"state\": \"running\", \"host\": "
                + "\"127.0.0.1\", \"port\": 1, \"timeline\": 4}], \"scope\": \"orders\"}")
                .getBytes(StandardCharsets.UTF_8);
        ex.sendResponseHeaders(200, body.length);
        ex.getResponseBody().write(body);
        ex.close();
    }

    private static String base() {
        return "https://127.0.0.1:" + server.getAddress().getPort();
    }

    @Test
    void followsAnHttpsRestApiWithTheCaAndAClientCertificate() throws Exception {
        TlsClient tls = TlsClient.builder("restTls").cacert(certs.caCert).certfile(certs.clientCert)
                .keyfile(certs.clientKey).build();
        try (HaDataSource ds = HaDataSource.builder().restUrls(List.of(base()), "orders").restTls(tls)
                .restPollInterval(Duration.ofMillis(200)).storeTimeout(Duration.ofSeconds(2)).user("postgres")
                .leaderWait(Duration.ofSeconds(5)).build()) {
            await().atMost(Duration.ofSeconds(20)).until(() -> ds.leader().orElse("").equals("a"));
        }
    }

    @Test
    void withoutAClientCertificateNothingIsAnsweredAndTheErrorSaysSo() throws Exception {
        int before = answered.get();
        TlsClient trustOnly = TlsClient.builder("restTls").cacert(certs.caCert).build();
        try (HaDataSource ds = HaDataSource.builder().restUrls(List.of(base()), "orders").restTls(trustOnly)
                .restPollInterval(Duration.ofMillis(200)).storeTimeout(Duration.ofSeconds(2)).user("postgres")
                // Longer than storeTimeout, so a refused first poll on a loaded machine has ended before the wait
                // does and the error can say why (CI saw "the store was never read" with a 2 s wait).
                .leaderWait(Duration.ofSeconds(8)).build()) {
            assertThatThrownBy(ds::getConnection).isInstanceOf(SQLException.class)
                    .hasMessageContaining("no REST API answered GET /cluster");
            assertThat(ds.leader()).isEmpty();
        }
        assertThat(answered.get()).as("requests that reached the handler").isEqualTo(before);
    }
}
