package io.pgha.core.internal.rest;

import static io.pgha.core.internal.rest.RestFixture.OPTIME;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.Credentials;
import io.pgha.core.config.RestTls;
import io.pgha.core.config.Tags;
import io.pgha.core.config.TlsClient;
import io.pgha.core.config.VerifyClient;
import io.pgha.core.internal.ha.PeerStatus;
import io.pgha.core.testkit.TestCertificates;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The REST API over TLS with real handshakes (certificates made by openssl at test time): https answers, what
 * {@code verify_client} required and optional let through, and members talking TLS to each other with their
 * {@code ctl} certificates.
 */
@Timeout(120)
class RestTlsServerTest {

    private static TestCertificates certs;
    private final RestFixture fx = new RestFixture().standard();

    @BeforeAll
    static void makeCertificates() throws Exception {
        certs = TestCertificates.inTempDir();
    }

    @AfterAll
    static void removeThem() {
        certs.close();
    }

    @AfterEach
    void close() {
        fx.close();
    }

    private RestApi serve(String member, VerifyClient verify) {
        RestTls.Builder tls = RestTls.pem().certfile(certs.serverCert).keyfile(certs.serverKey).verifyClient(verify);
        if (verify != VerifyClient.NONE) {
            tls.cafile(certs.caCert);
        }
        return fx.serve(fx.backend(member.equals("m1") ? fx.primary() : fx.replica(member, OPTIME)),
                RestFixture.rest().tls(tls.build()));
    }

    private static SSLContext client(Path cert, Path key) {
        TlsClient.Builder b = TlsClient.builder().cacert(certs.caCert);
        if (cert != null) {
            b.certfile(cert).keyfile(key);
        }
        return b.build().sslContext();
    }

    private static HttpResponse<String> call(SSLContext ctx, String method, String url, Credentials auth)
            throws IOException, InterruptedException {
        HttpClient.Builder cb = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5))
                .version(HttpClient.Version.HTTP_1_1);
        if (ctx != null) {
            cb.sslContext(ctx);
        }
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10))
                .method(method, method.equals("GET") ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString("{}"));
        if (auth != null) {
            r.header("Authorization", auth.header());
        }
        return cb.build().send(r.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String url(RestApi api, String path) {
        return api.apiUrl("127.0.0.1").replace("/patroni", path);
    }

    @Test
    void answersHttpsAndPublishesAnHttpsApiUrl() throws Exception {
        RestApi api = serve("m1", VerifyClient.NONE);
        assertThat(api.apiUrl("127.0.0.1")).isEqualTo("https://127.0.0.1:" + api.address().getPort() + "/patroni");

        HttpResponse<String> r = call(client(null, null), "GET", url(api, "/patroni"), null);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).contains("\"role\":\"primary\"");

        // The server is really checked: without the CA the JDK's default trust refuses its certificate.
        assertThatThrownBy(() -> call(null, "GET", url(api, "/patroni"), null)).isInstanceOf(IOException.class);
        // And it speaks TLS only.
        assertThatThrownBy(() -> call(null, "GET", url(api, "/patroni").replace("https:", "http:"), null))
                .isInstanceOf(IOException.class);
    }

    /**
     * Issue 12: as Patroni on a reload, the certificate files are read again: the next handshake presents the new
     * certificate; a bad file is refused naming its setting and the current certificate stays in force.
     */
    @Test
    void aReloadReadsTheCertificateFilesAgain() throws Exception {
        Path dir = java.nio.file.Files.createTempDirectory(certs.dir, "rotate");
        Path cert = dir.resolve("server.crt");
        Path key = dir.resolve("server.key");
        java.nio.file.Files.copy(certs.serverCert, cert);
        java.nio.file.Files.copy(certs.serverKey, key);
        RestTls tls = RestTls.pem().certfile(cert).keyfile(key).build();
        RestApi api = fx.serve(fx.backend(fx.primary()), RestFixture.rest().tls(tls));
        assertThat(call(client(null, null), "GET", url(api, "/patroni"), null).statusCode()).isEqualTo(200);

        // Replaced by a certificate our CA did not sign: after the re-read a client trusting the CA refuses it.
        java.nio.file.Files.copy(certs.rogueCert, cert, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        java.nio.file.Files.copy(certs.rogueKey, key, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertThat(call(client(null, null), "GET", url(api, "/patroni"), null).statusCode())
                .as("not read before the reload").isEqualTo(200);
        assertThat(tls.reread()).contains(cert.toString());
        assertThatThrownBy(() -> call(client(null, null), "GET", url(api, "/patroni"), null))
                .isInstanceOf(IOException.class);

        // A half-written pair (a key that is not the certificate's) is refused; what serves stays.
        java.nio.file.Files.copy(certs.serverCert, cert, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertThatThrownBy(tls::reread).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("restapi.keyfile");
        assertThatThrownBy(() -> call(client(null, null), "GET", url(api, "/patroni"), null))
                .isInstanceOf(IOException.class);

        java.nio.file.Files.copy(certs.serverKey, key, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        tls.reread();
        assertThat(call(client(null, null), "GET", url(api, "/patroni"), null).statusCode()).isEqualTo(200);
    }

    @Test
    void verifyClientRequiredRefusesAClientWithoutACertificateOrWithOneTheCaDidNotSign() throws Exception {
        RestApi api = serve("m1", VerifyClient.REQUIRED);

        assertThatThrownBy(() -> call(client(null, null), "GET", url(api, "/patroni"), null))
                .isInstanceOf(IOException.class);
        assertThatThrownBy(() -> call(client(certs.rogueCert, certs.rogueKey), "GET", url(api, "/patroni"), null))
                .isInstanceOf(IOException.class);

        SSLContext signed = client(certs.clientCert, certs.clientKey);
        assertThat(call(signed, "GET", url(api, "/patroni"), null).statusCode()).isEqualTo(200);
        // Basic auth still applies on top of the certificate.
        assertThat(call(signed, "POST", url(api, "/reload"), null).statusCode()).isEqualTo(401);
    }

    @Test
    void verifyClientOptionalReadsWithoutACertificateButChangesNothingWithoutOne() throws Exception {
        RestApi api = serve("m1", VerifyClient.OPTIONAL);
        SSLContext anonymous = client(null, null);
        SSLContext signed = client(certs.clientCert, certs.clientKey);

        assertThat(call(anonymous, "GET", url(api, "/patroni"), null).statusCode()).isEqualTo(200);
        HttpResponse<String> refused = call(anonymous, "POST", url(api, "/reload"), RestFixture.CREDENTIALS);
        assertThat(refused.statusCode()).isEqualTo(403);
        assertThat(refused.body()).contains("client certificate required");

        // With a certificate the request gets past that check to basic auth.
        assertThat(call(signed, "POST", url(api, "/reload"), null).statusCode()).isEqualTo(401);
        assertThat(call(signed, "POST", url(api, "/reload"), RestFixture.CREDENTIALS).statusCode())
                .isNotIn(401, 403);
        // A certificate the CA did not sign counts as none (the JDK client does not even offer it): reading is
        // allowed, changing is not.
        SSLContext rogue = client(certs.rogueCert, certs.rogueKey);
        assertThat(call(rogue, "GET", url(api, "/patroni"), null).statusCode()).isEqualTo(200);
        assertThat(call(rogue, "POST", url(api, "/reload"), RestFixture.CREDENTIALS).statusCode()).isEqualTo(403);
    }

    @Test
    void aJavaKeyStoreServesAsWellAsPemFiles() throws Exception {
        Path p12 = certs.convert(certs.dir.resolve("server.p12"), "pkcs12", "-export", "-in",
                certs.serverCert.toString(), "-inkey", certs.serverKey.toString(), "-passout", "pass:store-pass");
        KeyStore keys = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(p12)) {
            keys.load(in, "store-pass".toCharArray());
        }
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("ca", CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(Files.readAllBytes(certs.caCert))));
        RestApi api = fx.serve(fx.backend(fx.primary()), RestFixture.rest()
                .tls(RestTls.keyStore(keys, "store-pass".toCharArray(), trust, VerifyClient.REQUIRED)));

        assertThat(call(client(certs.clientCert, certs.clientKey), "GET", url(api, "/patroni"), null).statusCode())
                .isEqualTo(200);
        assertThatThrownBy(() -> call(client(null, null), "GET", url(api, "/patroni"), null))
                .isInstanceOf(IOException.class);
        assertThatThrownBy(() -> RestTls.keyStore(keys, "store-pass".toCharArray(), null, VerifyClient.OPTIONAL))
                .hasMessageContaining("needs a trust store");
    }

    private static Member at(String name, RestApi api) {
        Member m = RestFixture.member(name, Role.REPLICA, null, Tags.DEFAULT);
        return new Member(name, m.connUrl(), api.apiUrl("127.0.0.1"), m.state(), m.role(), null, null, null, null, 0,
                Tags.DEFAULT, false, false, Map.of(), -1);
    }

    @Test
    void peersTalkTlsToEachOtherWithTheirCtlCertificates() {
        RestApi m1 = serve("m1", VerifyClient.REQUIRED);
        RestApi m2 = serve("m2", VerifyClient.REQUIRED);
        List<Member> peers = List.of(at("m1", m1), at("m2", m2));

        try (HttpPeerClient ctl = new HttpPeerClient("demo", "m3", RestFixture.CREDENTIALS,
                client(certs.clientCert, certs.clientKey))) {
            Map<String, PeerStatus> s = ctl.fetchStatus(peers, Duration.ofSeconds(10));
            assertThat(s).containsOnlyKeys("m1", "m2");
            assertThat(s.get("m1").inRecovery()).isFalse();
            assertThat(s.get("m2").walPosition()).isEqualTo(OPTIME);
        }
        // A member's own server certificate serves as its client certificate (Patroni's fallback to restapi.*).
        RestTls own = RestTls.pem().certfile(certs.serverCert).keyfile(certs.serverKey).cafile(certs.caCert)
                .verifyClient(VerifyClient.REQUIRED).build();
        try (HttpPeerClient asServer = new HttpPeerClient("demo", "m3", RestFixture.CREDENTIALS,
                own.sslContext())) {
            assertThat(asServer.fetchStatus(peers, Duration.ofSeconds(10))).containsOnlyKeys("m1", "m2");
        }
        try (HttpPeerClient noCert = new HttpPeerClient("demo", "m3", RestFixture.CREDENTIALS,
                client(null, null))) {
            assertThat(noCert.fetchStatus(peers, Duration.ofSeconds(10))).isEmpty();
        }
    }

    /** A raw handshake offering only {@code suite} over {@code protocol}; the suite agreed on. */
    private static String handshake(RestApi api, String protocol, String suite) throws IOException {
        javax.net.ssl.SSLSocketFactory f = client(null, null).getSocketFactory();
        try (javax.net.ssl.SSLSocket socket = (javax.net.ssl.SSLSocket) f.createSocket("127.0.0.1",
                api.address().getPort())) {
            socket.setSoTimeout(10_000);
            socket.setEnabledProtocols(new String[] {protocol});
            socket.setEnabledCipherSuites(new String[] {suite});
            socket.startHandshake();
            return socket.getSession().getCipherSuite();
        }
    }

    /**
     * Issue 12: {@code restapi.ciphers} restricts what the server agrees to. A client offering only a suite the list
     * leaves out is refused; one offering a listed suite gets it. TLS 1.3 keeps the JDK's suites unless the list
     * names some (decision 0512).
     */
    @Test
    void cipherListLimitsTheSuitesTheServerAccepts() throws Exception {
        RestTls tls = RestTls.pem().certfile(certs.serverCert).keyfile(certs.serverKey)
                .ciphers("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305:!SSLv3").build();
        assertThat(tls.toString()).contains("ciphers TLS_AES_256_GCM_SHA384");
        RestApi api = fx.serve(fx.backend(fx.primary()), RestFixture.rest().tls(tls));

        assertThat(handshake(api, "TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"))
                .isEqualTo("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        assertThatThrownBy(() -> handshake(api, "TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"))
                .isInstanceOf(javax.net.ssl.SSLHandshakeException.class);
        assertThatThrownBy(() -> handshake(api, "TLSv1.2", "TLS_RSA_WITH_AES_128_CBC_SHA"))
                .isInstanceOf(javax.net.ssl.SSLHandshakeException.class);
        assertThat(handshake(api, "TLSv1.3", "TLS_AES_128_GCM_SHA256")).isEqualTo("TLS_AES_128_GCM_SHA256");
        // The same server still answers an ordinary https client.
        assertThat(call(client(null, null), "GET", url(api, "/patroni"), null).statusCode()).isEqualTo(200);

        RestApi only13 = fx.serve(fx.backend(fx.replica("m2", OPTIME)), RestFixture.rest().tls(RestTls.pem()
                .certfile(certs.serverCert).keyfile(certs.serverKey)
                .ciphers("ECDHE-RSA-AES128-GCM-SHA256:TLS_AES_256_GCM_SHA384").build()));
        assertThat(handshake(only13, "TLSv1.3", "TLS_AES_256_GCM_SHA384")).isEqualTo("TLS_AES_256_GCM_SHA384");
        assertThatThrownBy(() -> handshake(only13, "TLSv1.3", "TLS_AES_128_GCM_SHA256"))
                .isInstanceOf(javax.net.ssl.SSLHandshakeException.class);
    }

    @Test
    void aCipherListTheJdkCannotExpressFailsTheBuild() {
        assertThatThrownBy(() -> RestTls.pem().certfile(certs.serverCert).keyfile(certs.serverKey)
                .ciphers("HIGH:!aNULL:!MD5").build()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("restapi.ciphers: 'HIGH' is not a cipher suite this JDK offers");
        RestTls plain = RestTls.pem().certfile(certs.serverCert).keyfile(certs.serverKey).build();
        assertThat(plain.cipherSuites()).isEmpty();
        assertThat(plain.withCiphers("AES128-GCM-SHA256").cipherSuites()).endsWith("TLS_RSA_WITH_AES_128_GCM_SHA256");
        assertThatThrownBy(() -> plain.withCiphers("AES128-SHA:!SHA1")).hasMessageContaining("leaves no cipher");
    }
}
