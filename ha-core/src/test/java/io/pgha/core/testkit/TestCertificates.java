package io.pgha.core.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Certificates made with the real {@code openssl} at test time, into a directory of the caller's: a CA, a server
 * certificate for {@code 127.0.0.1} signed by it (usable as a client certificate too, as Patroni members use
 * theirs), a client certificate signed by it, and a self-signed "rogue" client the CA did not sign. Keys are PKCS#8
 * PEM (OpenSSL 3's default); {@link #convert} makes the other formats Patroni users have.
 *
 * <p>The server certificate names only an IP address: Debian's patronictl checks DNS names through urllib3's
 * pyOpenSSL backend, which needs the {@code idna} module that bookworm's packages do not pull in.
 */
public final class TestCertificates implements AutoCloseable {

    public final Path dir;
    public final Path caCert;
    public final Path serverCert;
    public final Path serverKey;
    public final Path clientCert;
    public final Path clientKey;
    public final Path rogueCert;
    public final Path rogueKey;

    private TestCertificates(Path dir) {
        this.dir = dir;
        this.caCert = dir.resolve("ca.pem");
        this.serverCert = dir.resolve("server.pem");
        this.serverKey = dir.resolve("server.key");
        this.clientCert = dir.resolve("client.pem");
        this.clientKey = dir.resolve("client.key");
        this.rogueCert = dir.resolve("rogue.pem");
        this.rogueKey = dir.resolve("rogue.key");
    }

    /** Makes everything in a new short temporary directory, which {@link #close()} removes. */
    public static TestCertificates inTempDir() throws IOException, InterruptedException {
        Path dir = TestFiles.shortTempDir("pgha-tls");
        try {
            return create(dir);
        } catch (IOException | InterruptedException | RuntimeException e) {
            TestFiles.deleteTree(dir);
            throw e;
        }
    }

    /** Removes the directory and everything in it. */
    @Override
    public void close() {
        TestFiles.deleteTree(dir);
    }

    /** Makes everything in {@code dir} (created if missing). Takes a second or two of openssl. */
    public static TestCertificates create(Path dir) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        TestCertificates c = new TestCertificates(dir);
        Path caKey = dir.resolve("ca.key");
        openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", caKey.toString(), "-out",
                c.caCert.toString(), "-days", "3", "-subj", "/CN=pgha-test-ca",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        c.signed("server", c.serverKey, c.serverCert, "/CN=127.0.0.1",
                "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n");
        c.signed("client", c.clientKey, c.clientCert, "/CN=pgha-test-client",
                "extendedKeyUsage=clientAuth\n");
        openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", c.rogueKey.toString(), "-out",
                c.rogueCert.toString(), "-days", "3", "-subj", "/CN=rogue-client");
        return c;
    }

    private void signed(String name, Path key, Path cert, String subject, String extensions)
            throws IOException, InterruptedException {
        Path csr = dir.resolve(name + ".csr");
        Path ext = dir.resolve(name + ".ext");
        Files.writeString(ext, "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                + "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n" + extensions);
        openssl(dir, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key.toString(), "-out",
                csr.toString(), "-subj", subject);
        openssl(dir, "x509", "-req", "-in", csr.toString(), "-CA", caCert.toString(), "-CAkey",
                dir.resolve("ca.key").toString(), "-CAcreateserial", "-out", cert.toString(), "-days", "3",
                "-extfile", ext.toString());
    }

    /** Runs {@code openssl args...} in {@code dir}; fails with its output unless it exits 0 within a minute. */
    public static String openssl(Path dir, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add("openssl");
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile(dir, "openssl-", ".out");
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(out.toFile()).start();
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                throw new IOException(String.join(" ", cmd) + " still runs after 60 s");
            }
            String output = Files.readString(out, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new IOException(String.join(" ", cmd) + " exited " + p.exitValue() + ":\n" + output);
            }
            return output;
        } finally {
            p.destroyForcibly();
            Files.deleteIfExists(out);
        }
    }

    /** {@code openssl args...} writing {@code target} (a converted key, say); returns {@code target}. */
    public Path convert(Path target, String... args) throws IOException, InterruptedException {
        List<String> all = new ArrayList<>(List.of(args));
        all.add("-out");
        all.add(target.toString());
        openssl(dir, all.toArray(new String[0]));
        return target;
    }
}
