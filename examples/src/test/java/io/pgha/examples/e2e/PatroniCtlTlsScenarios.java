package io.pgha.examples.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgha.core.cluster.Member;
import io.pgha.core.config.TlsClient;
import io.pgha.core.testkit.TestCertificates;
import io.pgha.core.testkit.TestPorts;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 12: a two-member pgha cluster on a real store whose REST APIs run TLS and demand a client certificate
 * ({@code verify_client: required}, certificates made by openssl; one member's key encrypted with
 * {@code keyfile_password}). Patroni 3.0.2's own {@code patronictl}, given {@code ctl} certificates, lists the cluster
 * from the https {@code api_url}s and switches over through {@code POST /switchover}, whose precheck on the leader
 * asks the candidate over TLS with the leader's own certificate (Patroni's fallback from {@code ctl} to
 * {@code restapi}). Without a client certificate patronictl reaches no member. The members' {@code restapi.ciphers}
 * (Patroni's documented shape) holds: a TLS 1.2 handshake offering only a suite it leaves out is refused. Debian's
 * HAProxy in front, checking {@code /primary} and {@code /replica} with {@code check-ssl verify required}, routes to
 * the leader and to the replica. patronictl reads the store with Patroni's own client for it (python-etcd, kazoo). A
 * subclass per store says which store: {@link PatroniCtlTlsEtcdTest}, {@link PatroniCtlTlsZooKeeperTest}.
 */
@Timeout(value = 6, unit = TimeUnit.MINUTES)
abstract class PatroniCtlTlsScenarios {

    private static final String KEY_PASSWORD = "tls-e2e-key-pass";
    /** Patroni's documented example list, less the DHE suites. */
    private static final String CIPHERS = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:!SSLv1:!SSLv2:"
            + "!SSLv3:!TLSv1:!TLSv1.1";

    /** Starts the store the members and patronictl share. */
    abstract StoreUnderTest startStore(Path dir) throws Exception;

    @Test
    void patronictlListsAndSwitchesOverAClusterWhoseRestApiDemandsClientCertificates() throws Exception {
        try (E2eCluster cluster = E2eCluster.onNewStore("pgha-tls", "tls-", this::startStore, 2)) {
            try {
                run(cluster, TestCertificates.create(cluster.base.resolve("certs")));
            } catch (Throwable t) {
                System.out.println(cluster.diagnostics());
                throw t;
            }
        }
    }

    private static void run(E2eCluster cluster, TestCertificates certs) throws Exception {
        Path encryptedKey = certs.convert(certs.dir.resolve("server-enc.key"), "pkcs8", "-topk8", "-v2",
                "aes-256-cbc", "-in", certs.serverKey.toString(), "-passout", "pass:" + KEY_PASSWORD);
        for (AgentProcess m : cluster.members) {
            Map<String, Object> tls = new LinkedHashMap<>();
            tls.put("certfile", certs.serverCert.toString());
            boolean encrypted = m.name.equals("pg1");
            tls.put("keyfile", (encrypted ? encryptedKey : certs.serverKey).toString());
            if (encrypted) {
                tls.put("keyfile_password", KEY_PASSWORD);
            }
            tls.put("cafile", certs.caCert.toString());
            tls.put("verify_client", "required");
            tls.put("ciphers", CIPHERS);
            addToRestapi(m.config, tls);
            m.useTls(TlsClient.builder("test").cacert(certs.caCert).certfile(certs.clientCert)
                    .keyfile(certs.clientKey).build().sslContext());
        }
        cluster.startAll();
        AgentProcess leader = cluster.awaitHealthy(Duration.ofSeconds(150));
        AgentProcess candidate = cluster.others(leader).get(0);

        // The member keys publish https api_urls: what patronictl, HAProxy and the peers use.
        assertThat(cluster.view().members().values()).extracting(Member::apiUrl)
                .allSatisfy(u -> assertThat(u).startsWith("https://127.0.0.1:"));
        // The REST port speaks TLS only, and only to a client with a certificate the CA signed.
        URI patroni = URI.create("https://127.0.0.1:" + leader.restPort + "/patroni");
        assertThatThrownBy(() -> E2eKit.HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + leader.restPort + "/patroni")).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString())).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> java.net.http.HttpClient.newBuilder()
                .sslContext(TlsClient.builder("test").cacert(certs.caCert).build().sslContext()).build()
                .send(HttpRequest.newBuilder(patroni).timeout(Duration.ofSeconds(10)).build(),
                        HttpResponse.BodyHandlers.ofString())).isInstanceOf(IOException.class);

        PatroniCtl ctl = new PatroniCtl(ctlConfig(cluster, certs, true));
        JsonNode list = ctl.run("list", "-f", "json").ok().json();
        assertThat(list).hasSize(2);
        for (JsonNode row : list) {
            String name = row.path("Member").asText();
            assertThat(row.path("Role").asText()).as("role of " + name)
                    .isEqualTo(name.equals(leader.name) ? "Leader" : "Replica");
        }
        // (Not `patronictl version`: 3.0.2 asks the members without its ctl settings, so it cannot verify them.)

        PatroniCtl.Run sw = ctl.run("switchover", "--leader", leader.name, "--candidate", candidate.name, "--force");
        assertThat(sw.ok().output()).as("through the REST API, not patronictl's fallback to the store")
                .contains("Successfully switched over to \"" + candidate.name + "\"")
                .doesNotContain("falling back to DCS");
        assertThat(cluster.awaitHealthy(Duration.ofSeconds(90))).isEqualTo(candidate);

        // Without a client certificate patronictl reaches no member: pause is refused and nothing changes.
        PatroniCtl.Run refused = new PatroniCtl(ctlConfig(cluster, certs, false)).run("pause");
        assertThat(refused.exitStatus()).as(refused.output()).isNotZero();
        assertThat(refused.output()).contains("Can not find accessible cluster member");
        assertThat(cluster.view().config().pause()).isFalse();
        // With it, pause goes through PATCH /config over TLS.
        assertThat(ctl.run("pause").ok().output()).contains("Success: cluster management is paused");
        assertThat(cluster.view().config().pause()).isTrue();
        ctl.run("resume").ok();

        AgentProcess newLeader = cluster.awaitHealthy(Duration.ofSeconds(60));
        ciphersHold(newLeader, certs);
        haproxyChecksOverTls(cluster, certs, newLeader);
    }

    /** restapi.ciphers is in force: an allowed TLS 1.2 suite is agreed on, one the list leaves out refused. */
    private static void ciphersHold(AgentProcess member, TestCertificates certs) throws Exception {
        javax.net.ssl.SSLContext client = TlsClient.builder("test").cacert(certs.caCert).certfile(certs.clientCert)
                .keyfile(certs.clientKey).build().sslContext();
        assertThat(handshake(client, member, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"))
                .isEqualTo("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        assertThatThrownBy(() -> handshake(client, member, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"))
                .as("a suite restapi.ciphers leaves out").isInstanceOf(javax.net.ssl.SSLHandshakeException.class);
    }

    private static String handshake(javax.net.ssl.SSLContext client, AgentProcess member, String suite)
            throws IOException {
        try (javax.net.ssl.SSLSocket s = (javax.net.ssl.SSLSocket) client.getSocketFactory()
                .createSocket("127.0.0.1", member.restPort)) {
            s.setSoTimeout(10_000);
            s.setEnabledProtocols(new String[] {"TLSv1.2"});
            s.setEnabledCipherSuites(new String[] {suite});
            s.startHandshake();
            return s.getSession().getCipherSuite();
        }
    }

    /**
     * Debian's HAProxy on the quickstart's haproxy.cfg, its checks sent over TLS ({@code check-ssl verify required
     * ca-file <ca>}, plus the client certificate {@code verify_client: required} demands): the primary listener
     * reaches the leader (not in recovery), the replica listener the replica.
     */
    private static void haproxyChecksOverTls(E2eCluster cluster, TestCertificates certs, AgentProcess leader)
            throws Exception {
        Path crt = certs.dir.resolve("haproxy-client.pem");
        java.nio.file.Files.writeString(crt, java.nio.file.Files.readString(certs.clientCert)
                + java.nio.file.Files.readString(certs.clientKey));
        int primaryPort = TestPorts.freePort();
        int replicaPort = TestPorts.freePort();
        String cfg = QuickstartHaproxy.checkedOverTls(QuickstartHaproxy.repointed(QuickstartHaproxy.read(),
                Map.of("primary", primaryPort, "replicas", replicaPort, "stats", TestPorts.freePort()),
                cluster.members.stream().map(m -> new QuickstartHaproxy.Server(m.name, m.pgPort, m.restPort))
                        .toList()), certs.caCert, crt);
        Path file = cluster.base.resolve("haproxy-tls.cfg");
        java.nio.file.Files.writeString(file, cfg);
        AgentProcess replica = cluster.others(leader).get(0);
        Process hp = QuickstartHaproxy.start(file, cluster.base.resolve("haproxy-tls.log"));
        try {
            // Checks every 3 s, down after 3 failures: the listeners hold only the right servers within ~10 s. Each
            // listener balances round robin, so four new connections in a row on the right server mean the other
            // server is out, not a lucky turn.
            await("HAProxy's primary listener reaches only " + leader.name + ", its replica listener only "
                    + replica.name).atMost(Duration.ofSeconds(45)).pollInterval(Duration.ofMillis(300))
                    .ignoreExceptions().until(() -> {
                        for (int i = 0; i < 4; i++) {
                            if (!E2eScenarios.serverBehind(primaryPort, leader).equals(leader.pgPort + " f")
                                    || !E2eScenarios.serverBehind(replicaPort, leader)
                                            .equals(replica.pgPort + " t")) {
                                return false;
                            }
                        }
                        return true;
                    });
            assertThat(hp.isAlive()).as("haproxy still runs (its log: haproxy-tls.log)").isTrue();
        } finally {
            QuickstartHaproxy.stop(hp);
        }
    }

    @SuppressWarnings("unchecked")
    private static void addToRestapi(Path config, Map<String, Object> keys) throws IOException {
        Map<String, Object> y = AgentProcess.YAML.readValue(config.toFile(), Map.class);
        Map<String, Object> rest = new LinkedHashMap<>((Map<String, Object>) y.get("restapi"));
        rest.putAll(keys);
        y.put("restapi", rest);
        AgentProcess.YAML.writeValue(config.toFile(), y);
    }

    /** patronictl's file: the store, the REST credentials, and (with a client certificate) Patroni's ctl section. */
    private static Path ctlConfig(E2eCluster cluster, TestCertificates certs, boolean clientCertificate)
            throws IOException {
        Map<String, Object> y = PatroniCtl.settings(cluster);
        Map<String, Object> ctl = new LinkedHashMap<>();
        ctl.put("cacert", certs.caCert.toString());
        if (clientCertificate) {
            ctl.put("certfile", certs.clientCert.toString());
            ctl.put("keyfile", certs.clientKey.toString());
        }
        y.put("ctl", ctl);
        Path file = cluster.base.resolve(clientCertificate ? "patronictl-tls.yaml" : "patronictl-no-cert.yaml");
        AgentProcess.YAML.writeValue(file.toFile(), y);
        return file;
    }
}
