package io.pgha.dcs.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.dcs.DcsContext;
import io.pgha.core.dcs.DcsUnavailableException;
import io.pgha.core.dcs.KeyLayout;
import io.pgha.core.time.SystemHaClock;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.TimeUnit;
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

    private EtcdDcs open(String name, EtcdSettings settings) {
        EtcdDcs d = EtcdDcs.open(settings, new DcsContext(KeyLayout.of("tls-" + opened.size()), name,
                Duration.ofSeconds(5), Duration.ofSeconds(2), SystemHaClock.INSTANCE));
        opened.push(d);
        return d;
    }
}
