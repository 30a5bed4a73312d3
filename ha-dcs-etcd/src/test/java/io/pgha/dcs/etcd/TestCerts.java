package io.pgha.dcs.etcd;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Key;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made with the JDK's keytool (no other
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
        Path ca = dir.resolve("ca.p12");
        Path caPem = dir.resolve("ca.pem");
        keytool("-genkeypair", "-alias", "ca", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=pgha test CA",
                "-ext", "bc:c", "-validity", "2", "-keystore", ca.toString());
        keytool("-exportcert", "-rfc", "-alias", "ca", "-keystore", ca.toString(), "-file", caPem.toString());

        Path server = dir.resolve("server.p12");
        Path serverPem = dir.resolve("server.pem");
        signed(dir, "server", ca, server, serverPem, "CN=127.0.0.1", "san=ip:127.0.0.1,dns:localhost",
                "eku=serverAuth,clientAuth");
        Path serverKey = dir.resolve("server.key");
        writeKey(server, "server", serverKey);

        Path client = dir.resolve("client.p12");
        Path clientPem = dir.resolve("client.pem");
        signed(dir, "client", ca, client, clientPem, "CN=pgha", null, "eku=clientAuth");
        // The signed reply replaces the self-signed certificate; keytool wants the CA in the store to chain it.
        keytool("-importcert", "-noprompt", "-alias", "ca", "-file", caPem.toString(), "-keystore", client.toString());
        keytool("-importcert", "-alias", "client", "-file", clientPem.toString(), "-keystore", client.toString());

        Path trust = dir.resolve("trust.p12");
        keytool("-importcert", "-noprompt", "-alias", "ca", "-file", caPem.toString(), "-keystore", trust.toString());
        return new TestCerts(caPem, serverPem, serverKey, trust, client);
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

    private static void writeKey(Path store, String alias, Path out) throws IOException {
        try {
            KeyStore ks = KeyStore.getInstance(store.toFile(), PASSWORD.toCharArray());
            Key key = ks.getKey(alias, PASSWORD.toCharArray());
            String pem = "-----BEGIN PRIVATE KEY-----\n"
                    + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(key.getEncoded())
                    + "\n-----END PRIVATE KEY-----\n";
            Files.writeString(out, pem);
        } catch (java.security.GeneralSecurityException e) {
            throw new IOException("cannot read the key of " + alias + " from " + store, e);
        }
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
