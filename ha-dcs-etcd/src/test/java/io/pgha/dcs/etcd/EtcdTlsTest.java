package io.pgha.dcs.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.time.SystemHaClock;
import java.io.IOException;
import java.net.ConnectException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** etcd serving https and demanding client certificates; the member trusts a private CA from a trust store. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class EtcdTlsTest {

    @TempDir
    static Path tmp;

    private TestCerts certs;
    private EtcdServer server;
    private final Deque<AutoCloseable> opened = new ArrayDeque<>();

    @BeforeAll
    void startEtcd() throws Exception {
        certs = TestCerts.create(tmp);
        EtcdSettings admin = EtcdSettings.builder("https://127.0.0.1:1").trustStore(certs.trustStore(),
                TestCerts.PASSWORD).keyStore(certs.clientStore(), TestCerts.PASSWORD).build();
        server = EtcdServer.start(tmp, "https", admin.sslContext(), List.of(
                "--cert-file", certs.serverPem().toString(), "--key-file", certs.serverKey().toString(),
                "--trusted-ca-file", certs.caPem().toString(), "--client-cert-auth"));
    }

    @AfterAll
    void stop() {
        while (!opened.isEmpty()) {
            try {
                opened.pop().close();
            } catch (Exception e) {
                // keep closing
            }
        }
        if (server != null) {
            server.close();
        }
    }

    @Test
    void aMemberWithTheCaAndAClientCertificateWorks() throws Exception {
        EtcdDcs a = open("a", EtcdSettings.builder(server.clientUrl().toString())
                .trustStore(certs.trustStore(), TestCerts.PASSWORD)
                .keyStore(certs.clientStore(), TestCerts.PASSWORD).build());
        assertThat(a.acquireLeader()).isTrue();
        assertThat(a.read().leaderName()).contains("a");
        assertThat(a.renewLeader()).isTrue();
    }

    @Test
    void withoutTheCaTheServerIsNotTrusted() {
        EtcdDcs a = open("a", EtcdSettings.builder(server.clientUrl().toString())
                .keyStore(certs.clientStore(), TestCerts.PASSWORD).build());
        assertThatThrownBy(a::read).isInstanceOf(DcsUnavailableException.class).hasMessageContaining("PKIX");
    }

    @Test
    void withoutAClientCertificateEtcdRefusesTheMember() {
        EtcdDcs a = open("a", EtcdSettings.builder(server.clientUrl().toString())
                .trustStore(certs.trustStore(), TestCerts.PASSWORD).build());
        assertThatThrownBy(a::read).isInstanceOf(DcsUnavailableException.class)
                .hasMessageContaining(server.clientUrl().toString())
                .hasMessageContaining("no client certificate (keyStore) is configured");
    }

    @Test
    void theMissingClientCertificateIsNamedWhicheverWayTheRefusalArrives() throws Exception {
        EtcdSettings noCert = EtcdSettings.builder(server.clientUrl().toString())
                .trustStore(certs.trustStore(), TestCerts.PASSWORD).build();
        // TLS 1.3 lets the client send its request before the server has judged its (absent) certificate.
        assertThat(EtcdGateway.mayLackAClientCertificate(noCert,
                new IOException("HTTP/1.1 header parser received no bytes"))).isTrue();
        assertThat(EtcdGateway.mayLackAClientCertificate(noCert,
                new SSLHandshakeException("Received fatal alert: certificate_required"))).isTrue();

        assertThat(EtcdGateway.mayLackAClientCertificate(noCert, new ConnectException())).as("nobody listens")
                .isFalse();
        assertThat(EtcdGateway.mayLackAClientCertificate(noCert, new EtcdGateway.NoExchange("no answer within 900 ms",
                null))).as("no answer at all").isFalse();
        assertThat(EtcdGateway.mayLackAClientCertificate(noCert, new IOException("wrapped",
                new SSLHandshakeException("PKIX path building failed")))).as("the server is not trusted").isFalse();
        EtcdSettings withCert = EtcdSettings.builder(server.clientUrl().toString())
                .trustStore(certs.trustStore(), TestCerts.PASSWORD)
                .keyStore(certs.clientStore(), TestCerts.PASSWORD).build();
        assertThat(EtcdGateway.mayLackAClientCertificate(withCert,
                new IOException("HTTP/1.1 header parser received no bytes"))).isFalse();
        assertThat(EtcdGateway.mayLackAClientCertificate(EtcdSettings.builder("http://127.0.0.1:2379").build(),
                new IOException("HTTP/1.1 header parser received no bytes"))).as("plain http").isFalse();
    }

    private EtcdDcs open(String name, EtcdSettings settings) {
        EtcdDcs d = EtcdDcs.open(settings, new DcsContext(KeyLayout.of("tls-" + opened.size()), name,
                Duration.ofSeconds(5), Duration.ofSeconds(2), SystemHaClock.INSTANCE));
        opened.push(d);
        return d;
    }
}
