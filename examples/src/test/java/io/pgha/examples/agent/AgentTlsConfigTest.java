package io.pgha.examples.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.testkit.TestCertificates;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Patroni's {@code restapi} TLS keys and {@code ctl} certificates in the agent's YAML and as {@code PATRONI_*}
 * variables, with openssl-made files: they are read at build, and bad ones fail naming the key (never the password).
 */
@Timeout(120)
class AgentTlsConfigTest {

    private static final String PASSWORD = "key-pass-42";
    private static TestCertificates certs;
    private static Path encryptedKey;

    @BeforeAll
    static void makeCertificates() throws Exception {
        certs = TestCertificates.inTempDir();
        encryptedKey = certs.convert(certs.dir.resolve("enc.key"), "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in",
                certs.serverKey.toString(), "-passout", "pass:" + PASSWORD);
    }

    @AfterAll
    static void removeThem() {
        certs.close();
    }

    private static Path file(String restapiTls, String ctl) throws Exception {
        String text = AgentConfigTest.MEMBER.replace("  authentication: {username: admin, password: secret}\n",
                "  authentication: {username: admin, password: secret}\n" + restapiTls) + ctl;
        Path f = Files.createTempFile(certs.dir, "member-", ".yaml");
        Files.writeString(f, text);
        return f;
    }

    @Test
    void restapiTlsAndCtlCertificatesLoadFromTheFileAndTheEnvironment() throws Exception {
        Path f = file("  certfile: " + certs.serverCert + "\n  keyfile: " + encryptedKey + "\n  cafile: "
                + certs.caCert + "\n  verify_client: required\n", "ctl:\n  certfile: " + certs.clientCert
                + "\n  keyfile: " + certs.clientKey + "\n");
        AgentConfig c = AgentConfig.load(f, Map.of("PATRONI_RESTAPI_KEYFILE_PASSWORD", PASSWORD));
        assertThat(c.warnings()).isEmpty();

        // The variable is what decrypts the key: a wrong one fails naming the setting, not showing the value.
        assertThatThrownBy(() -> AgentConfig.load(f, Map.of("PATRONI_RESTAPI_KEYFILE_PASSWORD", "not-" + PASSWORD)))
                .hasMessageContaining("restapi.keyfile_password").message().doesNotContain(PASSWORD);

        // Everything from the environment, Patroni's names.
        Path bare = file("", "");
        AgentConfig env = AgentConfig.load(bare, Map.of("PATRONI_RESTAPI_CERTFILE", certs.serverCert.toString(),
                "PATRONI_RESTAPI_KEYFILE", certs.serverKey.toString(), "PATRONI_RESTAPI_CAFILE",
                certs.caCert.toString(), "PATRONI_RESTAPI_VERIFY_CLIENT", "optional", "PATRONI_CTL_INSECURE", "true",
                "PATRONI_CTL_CERTFILE", certs.clientCert.toString(), "PATRONI_CTL_KEYFILE",
                certs.clientKey.toString()));
        assertThat(env.warnings()).isEmpty();
        assertThatThrownBy(() -> AgentConfig.load(bare, Map.of("PATRONI_RESTAPI_CERTFILE",
                certs.serverCert.toString(), "PATRONI_RESTAPI_KEYFILE", certs.serverKey.toString(),
                "PATRONI_CTL_CERTFILE", certs.clientCert.toString(), "PATRONI_CTL_KEYFILE",
                certs.serverKey.toString())))
                .hasMessageContaining("ctl.keyfile").hasMessageContaining("does not belong");
    }

    @Test
    void badTlsSettingsFailNamingTheKey() throws Exception {
        Path missing = certs.dir.resolve("missing.pem");
        assertThatThrownBy(() -> AgentConfig.load(file("  certfile: " + missing + "\n", ""), Map.of()))
                .hasMessage("restapi.certfile: the file " + missing + " does not exist");
        assertThatThrownBy(() -> AgentConfig.load(file("  certfile: " + certs.serverCert + "\n  keyfile: "
                + certs.serverKey + "\n  verify_client: required\n", ""), Map.of()))
                .hasMessageContaining("restapi.verify_client: required needs restapi.cafile");
        assertThatThrownBy(() -> AgentConfig.load(file("  certfile: " + certs.serverCert + "\n  keyfile: "
                + certs.serverKey + "\n  cafile: " + certs.caCert + "\n  verify_client: sometimes\n", ""), Map.of()))
                .hasMessage("restapi.verify_client: expected none, optional or required, got 'sometimes'");
        assertThatThrownBy(() -> AgentConfig.load(file("  cafile: " + certs.caCert + "\n", ""), Map.of()))
                .hasMessageContaining("restapi.cafile needs restapi.certfile");
        assertThatThrownBy(() -> AgentConfig.load(file("  certfile: " + certs.serverCert + "\n  keyfile: "
                + certs.clientKey + "\n", ""), Map.of()))
                .hasMessageContaining("restapi.keyfile").hasMessageContaining("does not belong");
    }

    /** Issue 12: {@code restapi.ciphers} is applied (translated at load), no longer an ignored key. */
    @Test
    void restapiCiphersAreTranslatedAtLoadAndBadOnesFailNamingTheKey() throws Exception {
        String tls = "  certfile: " + certs.serverCert + "\n  keyfile: " + certs.serverKey + "\n";
        AgentConfig ok = AgentConfig.load(file(tls + "  ciphers: \"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-"
                + "SHA256:!SSLv1:!SSLv2:!SSLv3:!TLSv1:!TLSv1.1\"\n", ""), Map.of());
        assertThat(ok.warnings()).isEmpty();

        assertThatThrownBy(() -> AgentConfig.load(file(tls + "  ciphers: \"HIGH:!aNULL\"\n", ""), Map.of()))
                .hasMessageStartingWith("restapi.ciphers: 'HIGH' is not a cipher suite this JDK offers");
        assertThatThrownBy(() -> AgentConfig.load(file(tls, ""), Map.of("PATRONI_RESTAPI_CIPHERS",
                "ECDHE-RSA-AES128-SHA:!SSLv3"))).hasMessageContaining("restapi.ciphers")
                .hasMessageContaining("leaves no cipher suite");
        assertThatThrownBy(() -> AgentConfig.load(file("  ciphers: AES128-GCM-SHA256\n", ""), Map.of()))
                .hasMessageContaining("restapi.ciphers needs restapi.certfile");
    }
}
