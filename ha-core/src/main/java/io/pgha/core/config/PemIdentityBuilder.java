package io.pgha.core.config;

import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import javax.net.ssl.KeyManager;

/**
 * The certificate-and-key part that {@link RestTls.Builder} (the server's) and {@link TlsClient.Builder} (a client
 * certificate) share, with Patroni's setting names under their section ({@code restapi.*}, {@code ctl.*}).
 */
abstract class PemIdentityBuilder<B extends PemIdentityBuilder<B>> {

    Path certfile;
    Path keyfile;
    private char[] keyfilePassword;

    abstract B self();

    /** The certificate (chain, leaf first); may hold the private key too. */
    public B certfile(Path v) {
        certfile = Objects.requireNonNull(v, "certfile");
        return self();
    }

    /** The private key (PKCS#8, encrypted PKCS#8 or PKCS#1 RSA PEM); default: the key in {@code certfile}. */
    public B keyfile(Path v) {
        keyfile = Objects.requireNonNull(v, "keyfile");
        return self();
    }

    /**
     * Decrypts an {@code ENCRYPTED PRIVATE KEY}; never printed. The REST API's TLS keeps a copy to read the key again
     * on a reload; a client certificate's builder wipes it after {@code build()}.
     */
    public B keyfilePassword(String v) {
        keyfilePassword = Objects.requireNonNull(v, "keyfilePassword").toCharArray();
        return self();
    }

    /**
     * Key managers presenting the certificate chain with its key, checked to belong together; null without a
     * {@code certfile}. Wipes the password: a builder is built once.
     */
    KeyManager[] keyManagers(String section) {
        try {
            return certfile == null ? null : read(certfile, keyfile, keyfilePassword, section);
        } finally {
            if (keyfilePassword != null) {
                Arrays.fill(keyfilePassword, '\0');
            }
        }
    }

    /** A copy of the password for reading the files again later (a reload); null when none was given. */
    char[] passwordCopy() {
        return keyfilePassword == null ? null : keyfilePassword.clone();
    }

    /** Reads and checks the certificate chain and its key ({@code keyfile} null: the key in {@code certfile}). */
    static KeyManager[] read(Path certfile, Path keyfile, char[] password, String section) {
        String certSetting = section + ".certfile";
        List<X509Certificate> chain = PemFiles.certificates(certfile, certSetting);
        Path keyPath = keyfile;
        String keySetting = section + ".keyfile";
        if (keyPath == null) {
            if (!PemFiles.hasPrivateKey(certfile, certSetting)) {
                throw new IllegalArgumentException(keySetting + " is required: " + certSetting + " " + certfile
                        + " holds no private key");
            }
            keyPath = certfile;
            keySetting = certSetting;
        }
        PrivateKey key = PemFiles.privateKey(keyPath, keySetting, password, section + ".keyfile_password");
        PemFiles.requireMatch(key, chain.get(0), keySetting, keyPath, certSetting, certfile);
        return PemFiles.keyManagers(key, chain).getKeyManagers();
    }
}
