package io.pgha.core.config;

import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.List;
import java.util.Objects;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;

/**
 * TLS for the REST API ({@code restapi.certfile}, {@code keyfile}, {@code keyfile_password}, {@code cafile},
 * {@code verify_client}, {@code ciphers}). The files are read and checked when this is built, so a missing file, a
 * key that does not belong to the certificate or {@code verify_client} without a CA fail before anything starts;
 * {@link #reread()} reads them again (a reload). The key's password is kept in memory for that, never printed.
 *
 * <p>Three ways in: PEM files as Patroni reads them ({@link #pem()}), a Java {@link KeyStore}
 * ({@link #keyStore}), or a ready {@link SSLContext} ({@link #of}).
 */
public final class RestTls {

    private final SSLContext sslContext;
    private final VerifyClient verifyClient;
    private final String description;
    /** Reads the PEM files again into the context's managers; null for a key store or a ready context. */
    private final PemRereader rereader;
    /** The JDK names the server enables; empty for the JDK's defaults. */
    private final List<String> cipherSuites;

    private RestTls(SSLContext sslContext, VerifyClient verifyClient, String description) {
        this(sslContext, verifyClient, description, null, List.of());
    }

    private RestTls(SSLContext sslContext, VerifyClient verifyClient, String description, PemRereader rereader,
            List<String> cipherSuites) {
        this.sslContext = sslContext;
        this.verifyClient = verifyClient;
        this.description = description;
        this.rereader = rereader;
        this.cipherSuites = cipherSuites;
    }

    /** Built from PEM files, as Patroni's YAML has them. */
    public static Builder pem() {
        return new Builder();
    }

    /**
     * A ready context: its key managers are the server's certificate, its trust managers judge client certificates
     * (and, unless the peers get a {@code TlsClient} of their own, the other members' server certificates).
     */
    public static RestTls of(SSLContext context, VerifyClient verifyClient) {
        Objects.requireNonNull(context, "context");
        Objects.requireNonNull(verifyClient, "verifyClient");
        return new RestTls(context, verifyClient, "an SSLContext (" + context.getProtocol() + ")");
    }

    /**
     * From key stores: {@code keys} holds the server's key and certificate chain under {@code keyPassword};
     * {@code trust} the CA certificates that sign client (and peer) certificates, or null for the JDK's default
     * trust (then {@code verifyClient} must be {@link VerifyClient#NONE}).
     */
    public static RestTls keyStore(KeyStore keys, char[] keyPassword, KeyStore trust, VerifyClient verifyClient) {
        Objects.requireNonNull(keys, "keys");
        Objects.requireNonNull(verifyClient, "verifyClient");
        if (verifyClient != VerifyClient.NONE && trust == null) {
            throw new IllegalArgumentException("verifyClient " + verifyClient + " needs a trust store: the CA "
                    + "certificates that sign the clients' certificates");
        }
        try {
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, keyPassword);
            TrustManagerFactory tmf = null;
            if (trust != null) {
                tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(trust);
            }
            SSLContext ctx = context(kmf.getKeyManagers(), tmf == null ? null : tmf.getTrustManagers());
            return new RestTls(ctx, verifyClient, "a key store (" + keys.getType() + ")");
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("the REST key store cannot be used: " + e.getMessage(), e);
        }
    }

    /** The context the server (and, by default, the peer client) uses. */
    public SSLContext sslContext() {
        return sslContext;
    }

    public VerifyClient verifyClient() {
        return verifyClient;
    }

    /**
     * The same TLS with the server's cipher suites restricted to {@code ciphers}, Patroni's {@code restapi.ciphers}:
     * an OpenSSL-style list such as {@code ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384} (OpenSSL or IANA
     * suite names; {@code !name} or {@code !aNULL}-style groups exclude). TLS 1.3 suites stay enabled unless the list
     * names some (OpenSSL's cipher string does not cover TLS 1.3). Only the server side is restricted; the peers'
     * client side keeps the JDK's defaults, as under Patroni. Decision 0512.
     *
     * @throws IllegalArgumentException an entry the JDK cannot express (OpenSSL keywords such as {@code HIGH}), a
     *                                  suite this JDK does not offer, or a list that leaves none; naming the entry
     */
    public RestTls withCiphers(String ciphers) {
        Objects.requireNonNull(ciphers, "ciphers");
        List<String> suites = CipherList.toJdk(ciphers, "restapi.ciphers",
                List.of(sslContext.getSupportedSSLParameters().getCipherSuites()));
        return new RestTls(sslContext, verifyClient, description, rereader, suites);
    }

    /**
     * The JDK cipher suite names the server enables (TLS 1.3 ones first), from {@link #withCiphers}; empty when the
     * JDK's defaults apply.
     */
    public List<String> cipherSuites() {
        return cipherSuites;
    }

    /**
     * Reads the PEM files again (as Patroni does on a reload): the certificate, key and CA found there serve every
     * handshake from now on, the server's and the peers' client side alike; open connections keep theirs. All files
     * are read and checked before anything changes, so a bad or half-written file leaves the current ones in force.
     * A key store or a ready context has no files: nothing is read.
     *
     * @return what was read, for the log; null when there is nothing to read
     * @throws IllegalArgumentException a file is missing or bad, naming the setting (the current ones stay)
     */
    public String reread() {
        if (rereader == null) {
            return null;
        }
        rereader.reread();
        return "TLS certificates re-read from " + description;
    }

    /** Where the keys came from (never a password). */
    @Override
    public String toString() {
        return "TLS from " + description + ", verify_client " + verifyClient.name().toLowerCase(java.util.Locale.ROOT)
                + (cipherSuites.isEmpty() ? "" : ", ciphers " + String.join(":", cipherSuites));
    }

    /** PEM files; the setting names in errors are Patroni's ({@code restapi.certfile}, ...). */
    public static final class Builder extends PemIdentityBuilder<Builder> {
        private Path cafile;
        private VerifyClient verifyClient = VerifyClient.NONE;
        private String ciphers;

        private Builder() {}

        @Override
        Builder self() {
            return this;
        }

        /** CA certificates that sign client certificates; also what peers trust unless they get their own. */
        public Builder cafile(Path v) {
            cafile = Objects.requireNonNull(v, "cafile");
            return this;
        }

        /** Default {@link VerifyClient#NONE}; anything else needs {@link #cafile}. */
        public Builder verifyClient(VerifyClient v) {
            verifyClient = Objects.requireNonNull(v, "verifyClient");
            return this;
        }

        /** Patroni's {@code restapi.ciphers}; default the JDK's suites. See {@link RestTls#withCiphers}. */
        public Builder ciphers(String v) {
            ciphers = Objects.requireNonNull(v, "ciphers");
            return this;
        }

        /** Reads and checks the files; the message of a failure names the setting. */
        public RestTls build() {
            if (certfile == null) {
                throw new IllegalArgumentException("restapi.certfile is required for TLS");
            }
            if (verifyClient != VerifyClient.NONE && cafile == null) {
                throw new IllegalArgumentException("restapi.verify_client: " + verifyClient.name()
                        .toLowerCase(java.util.Locale.ROOT) + " needs restapi.cafile (the CA that signs the clients' "
                        + "certificates)");
            }
            char[] password = passwordCopy();
            KeyManager[] keys = keyManagers("restapi");
            LiveKeyManagers.Keys liveKeys = new LiveKeyManagers.Keys(LiveKeyManagers.x509(keys, "restapi.certfile"));
            LiveKeyManagers.Trust liveTrust = cafile == null ? null : new LiveKeyManagers.Trust(LiveKeyManagers.x509(
                    PemFiles.trustManagers(cafile, "restapi.cafile").getTrustManagers(), "restapi.cafile"));
            SSLContext ctx = context(new KeyManager[] {liveKeys},
                    liveTrust == null ? null : new TrustManager[] {liveTrust});
            RestTls tls = new RestTls(ctx, verifyClient, "certfile " + certfile
                    + (cafile == null ? "" : ", cafile " + cafile),
                    new PemRereader(certfile, keyfile, password, cafile, liveKeys, liveTrust), List.of());
            return ciphers == null ? tls : tls.withCiphers(ciphers);
        }
    }

    /**
     * The files a PEM-built context came from. Keeps the key's password (when one was given) for as long as the
     * context lives: reading an encrypted key again needs it, as Patroni keeps it in its configuration.
     */
    private record PemRereader(Path certfile, Path keyfile, char[] password, Path cafile,
            LiveKeyManagers.Keys keys, LiveKeyManagers.Trust trust) {

        void reread() {
            KeyManager[] k = PemIdentityBuilder.read(certfile, keyfile, password, "restapi");
            TrustManager[] t = cafile == null ? null
                    : PemFiles.trustManagers(cafile, "restapi.cafile").getTrustManagers();
            keys.use(LiveKeyManagers.x509(k, "restapi.certfile"));
            if (trust != null) {
                trust.use(LiveKeyManagers.x509(t, "restapi.cafile"));
            }
        }
    }

    /** A TLS context of these managers; null trust managers mean the JDK's default trust store. */
    static SSLContext context(KeyManager[] keys, TrustManager[] trust) {
        try {
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(keys, trust, null);
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot set up TLS: " + e, e);
        }
    }
}
