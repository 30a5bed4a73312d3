package io.pgha.dcs.etcd;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, signed with the JDK's keytool (no other
 * tool is guaranteed on a CI machine). etcd gets PEM files; the Java side gets PKCS12 stores.
 *
 * @param caPem       the CA certificate, etcd's {@code --trusted-ca-file}
 * @param serverPem   the server certificate, etcd's {@code --cert-file}
 * @param serverKey   its private key (PKCS#8 PEM), etcd's {@code --key-file}
 * @param trustStore  PKCS12 with the CA certificate, for {@link EtcdSettings.Builder#trustStore}
 * @param clientStore PKCS12 with the client key and certificate, for {@link EtcdSettings.Builder#keyStore}
 */
record TestCerts(Path caPem, Path serverPem, Path serverKey, Path trustStore, Path clientStore) {

    static final String PASSWORD = "changeit-test";

    static TestCerts create(Path dir) throws IOException {
        // Only what needs keytool runs keytool (a JVM start each, slow on a busy machine); the rest is done here.
        Path ca = dir.resolve("ca.p12");
        keytool("-genkeypair", "-alias", "ca", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=pgha test CA",
                "-ext", "bc:c", "-validity", "2", "-keystore", ca.toString());
        Path server = dir.resolve("server.p12");
        Path serverPem = dir.resolve("server.pem");
        signed(dir, "server", ca, server, serverPem, "CN=127.0.0.1", "san=ip:127.0.0.1,dns:localhost",
                "eku=serverAuth,clientAuth");
        Path client = dir.resolve("client.p12");
        Path clientPem = dir.resolve("client.pem");
        signed(dir, "client", ca, client, clientPem, "CN=pgha", null, "eku=clientAuth");
        try {
            char[] pw = PASSWORD.toCharArray();
            Certificate caCert = KeyStore.getInstance(ca.toFile(), pw).getCertificate("ca");
            Path caPem = dir.resolve("ca.pem");
            Files.writeString(caPem, pem("CERTIFICATE", caCert.getEncoded()));
            Path serverKey = dir.resolve("server.key");
            Files.writeString(serverKey, pem("PRIVATE KEY",
                    KeyStore.getInstance(server.toFile(), pw).getKey("server", pw).getEncoded()));

            // The client's key with its CA-signed certificate and the CA, as a TLS client presents them.
            KeyStore cs = KeyStore.getInstance(client.toFile(), pw);
            Key clientKey = cs.getKey("client", pw);
            Certificate signedClient;
            try (InputStream in = Files.newInputStream(clientPem)) {
                signedClient = CertificateFactory.getInstance("X.509").generateCertificate(in);
            }
            cs.setKeyEntry("client", clientKey, pw, new Certificate[] {signedClient, caCert});
            store(cs, client);

            KeyStore ts = KeyStore.getInstance("PKCS12");
            ts.load(null, null);
            ts.setCertificateEntry("ca", caCert);
            Path trust = dir.resolve("trust.p12");
            store(ts, trust);
            return new TestCerts(caPem, serverPem, serverKey, trust, client);
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot assemble the test key stores", e);
        }
    }

    private static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n"
                + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }

    private static void store(KeyStore ks, Path file) throws IOException, GeneralSecurityException {
        try (OutputStream out = Files.newOutputStream(file)) {
            ks.store(out, PASSWORD.toCharArray());
        }
    }

    private static void signed(Path dir, String alias, Path ca, Path store, Path pem, String dname, String san,
            String eku) throws IOException {
        keytool("-genkeypair", "-alias", alias, "-keyalg", "EC", "-groupname", "secp256r1", "-dname", dname,
                "-validity", "2", "-keystore", store.toString());
        Path csr = dir.resolve(alias + ".csr");
        keytool("-certreq", "-alias", alias, "-keystore", store.toString(), "-file", csr.toString());
        List<String> gencert = new ArrayList<>(List.of("-gencert", "-rfc", "-alias", "ca", "-keystore", ca.toString(),
                "-infile", csr.toString(), "-outfile", pem.toString(), "-validity", "2", "-ext", eku,
                "-ext", "ku=digitalSignature"));
        if (san != null) {
            gencert.addAll(List.of("-ext", san));
        }
        keytool(gencert.toArray(String[]::new));
    }

    private static void keytool(String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        // A short-lived JVM each time: skip the optimising compiler.
        cmd.add("-J-XX:TieredStopAtLevel=1");
        cmd.addAll(List.of(args));
        cmd.addAll(List.of("-storetype", "PKCS12", "-storepass", PASSWORD));
        if (args[0].equals("-genkeypair")) {
            cmd.addAll(List.of("-keypass", PASSWORD));
        }
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("keytool did not finish within 60 s: " + cmd);
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running keytool", e);
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            throw new IOException("keytool failed (" + p.exitValue() + "): " + cmd + "\n" + out);
        }
    }
}
