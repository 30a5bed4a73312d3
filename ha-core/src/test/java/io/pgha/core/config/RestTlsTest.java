package io.pgha.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.testkit.TestCertificates;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Loading the PEM files Patroni users have, made by the real openssl: the formats that load, the ones refused with
 * the conversion command, and bad input failing at build with the setting's name (never the password).
 */
@Timeout(120)
class RestTlsTest {

    private static final String PASSWORD = "s3cret-pass";
    private static Path dir;
    private static TestCertificates certs;

    @BeforeAll
    static void makeCertificates() throws Exception {
        certs = TestCertificates.inTempDir();
        dir = certs.dir;
    }

    @AfterAll
    static void removeThem() {
        certs.close();
    }

    private static RestTls.Builder server() {
        return RestTls.pem().certfile(certs.serverCert);
    }

    @Test
    void pkcs8KeyAndCaLoad() {
        RestTls tls = server().keyfile(certs.serverKey).cafile(certs.caCert).verifyClient(VerifyClient.REQUIRED)
                .build();
        assertThat(tls.sslContext()).isNotNull();
        assertThat(tls.verifyClient()).isEqualTo(VerifyClient.REQUIRED);
        assertThat(tls.toString()).contains(certs.serverCert.toString()).contains("verify_client required");
    }

    @Test
    void encryptedPkcs8NeedsTheRightPasswordWhichIsNeverPrinted() throws Exception {
        Path enc = certs.convert(dir.resolve("enc.key"), "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in",
                certs.serverKey.toString(), "-passout", "pass:" + PASSWORD);
        assertThat(Files.readString(enc)).contains("BEGIN ENCRYPTED PRIVATE KEY");

        RestTls tls = server().keyfile(enc).keyfilePassword(PASSWORD).build();
        assertThat(tls.toString()).doesNotContain(PASSWORD);

        assertThatThrownBy(() -> server().keyfile(enc).build())
                .hasMessageContaining("restapi.keyfile").hasMessageContaining("restapi.keyfile_password");
        assertThatThrownBy(() -> server().keyfile(enc).keyfilePassword("wrong-" + PASSWORD).build())
                .hasMessageContaining("cannot be decrypted with restapi.keyfile_password")
                .message().doesNotContain(PASSWORD);
    }

    @Test
    void pkcs1RsaKeyLoads() throws Exception {
        Path rsa = certs.convert(dir.resolve("rsa1.key"), "rsa", "-traditional", "-in", certs.serverKey.toString());
        assertThat(Files.readString(rsa)).contains("BEGIN RSA PRIVATE KEY");
        assertThat(server().keyfile(rsa).build().sslContext()).isNotNull();
    }

    @Test
    void keyInsideTheCertfileIsUsedWithoutAKeyfile() throws Exception {
        Path both = dir.resolve("both.pem");
        Files.writeString(both, Files.readString(certs.serverCert) + Files.readString(certs.serverKey));
        assertThat(RestTls.pem().certfile(both).build().sslContext()).isNotNull();
        assertThatThrownBy(() -> RestTls.pem().certfile(certs.serverCert).build())
                .hasMessageContaining("restapi.keyfile is required");
    }

    @Test
    void sec1EcKeysLoadAndAreCheckedAgainstTheirCertificate() throws Exception {
        Path ec = certs.convert(dir.resolve("ec.key"), "ecparam", "-name", "prime256v1", "-genkey", "-noout");
        assertThat(Files.readString(ec)).contains("BEGIN EC PRIVATE KEY");
        Path ecCert = certs.convert(dir.resolve("ec.pem"), "req", "-x509", "-key", ec.toString(), "-days", "2",
                "-subj", "/CN=127.0.0.1");
        assertThat(RestTls.pem().certfile(ecCert).keyfile(ec).build().sslContext()).isNotNull();
        Path otherEc = certs.convert(dir.resolve("ec2.key"), "ecparam", "-name", "secp384r1", "-genkey", "-noout");
        assertThatThrownBy(() -> RestTls.pem().certfile(ecCert).keyfile(otherEc).build())
                .hasMessageContaining("restapi.keyfile").hasMessageContaining("does not belong");
    }

    @Test
    void legacyEncryptedKeysAreRefusedWithTheConversion() throws Exception {
        Path legacy = certs.convert(dir.resolve("legacy.key"), "rsa", "-traditional", "-aes256", "-in",
                certs.serverKey.toString(), "-passout", "pass:" + PASSWORD);
        assertThatThrownBy(() -> server().keyfile(legacy).keyfilePassword(PASSWORD).build())
                .hasMessageContaining("restapi.keyfile").hasMessageContaining("legacy")
                .hasMessageContaining("openssl pkcs8 -topk8").message().doesNotContain(PASSWORD);
    }

    @Test
    void aKeyOfAnotherCertificateIsRefused() {
        assertThatThrownBy(() -> server().keyfile(certs.clientKey).build())
                .hasMessageContaining("restapi.keyfile").hasMessageContaining("does not belong to the certificate")
                .hasMessageContaining("restapi.certfile");
    }

    @Test
    void missingFilesAndVerifyClientWithoutCaFailNamingTheSetting() {
        Path missing = dir.resolve("nope.pem");
        assertThatThrownBy(() -> RestTls.pem().certfile(missing).keyfile(certs.serverKey).build())
                .hasMessage("restapi.certfile: the file " + missing + " does not exist");
        assertThatThrownBy(() -> server().keyfile(missing).build())
                .hasMessage("restapi.keyfile: the file " + missing + " does not exist");
        assertThatThrownBy(() -> server().keyfile(certs.serverKey).cafile(missing).build())
                .hasMessage("restapi.cafile: the file " + missing + " does not exist");
        assertThatThrownBy(() -> server().keyfile(certs.serverKey).verifyClient(VerifyClient.OPTIONAL).build())
                .hasMessageContaining("restapi.verify_client: optional needs restapi.cafile");
        assertThatThrownBy(() -> RestTls.pem().keyfile(certs.serverKey).build())
                .hasMessageContaining("restapi.certfile is required");
        assertThatThrownBy(() -> server().keyfile(certs.caCert).build())
                .hasMessageContaining("restapi.keyfile").hasMessageContaining("no PEM private key");
    }

    @Test
    void clientSideSettingsAreNamedAsCtl() {
        Path missing = dir.resolve("nope.pem");
        assertThatThrownBy(() -> TlsClient.builder().cacert(missing).build())
                .hasMessage("ctl.cacert: the file " + missing + " does not exist");
        assertThatThrownBy(() -> TlsClient.builder().certfile(certs.clientCert).keyfile(certs.serverKey).build())
                .hasMessageContaining("ctl.keyfile").hasMessageContaining("does not belong");
        assertThatThrownBy(() -> TlsClient.builder().keyfile(certs.clientKey).build())
                .hasMessageContaining("ctl.keyfile needs ctl.certfile");
        assertThat(TlsClient.builder().insecure(true).build().insecure()).isTrue();
    }

    @Test
    void verifyClientParsesPatronisSpellings() {
        assertThat(VerifyClient.parse("Required", "restapi.verify_client")).isEqualTo(VerifyClient.REQUIRED);
        assertThat(VerifyClient.parse("none", "restapi.verify_client")).isEqualTo(VerifyClient.NONE);
        assertThatThrownBy(() -> VerifyClient.parse("always", "restapi.verify_client"))
                .hasMessage("restapi.verify_client: expected none, optional or required, got 'always'");
    }
}
