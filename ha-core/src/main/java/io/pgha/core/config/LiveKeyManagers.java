package io.pgha.core.config;

import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Objects;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Key and trust managers whose contents can be replaced while an {@code SSLContext} built over them serves: the next
 * handshake uses the new certificate (Patroni re-reads its certificates on a reload). Connections already open keep
 * what they negotiated.
 */
final class LiveKeyManagers {

    private LiveKeyManagers() {}

    static X509ExtendedKeyManager x509(KeyManager[] managers, String what) {
        for (KeyManager m : managers) {
            if (m instanceof X509ExtendedKeyManager x) {
                return x;
            }
        }
        throw new IllegalStateException(what + ": the key manager factory made no X509 key manager");
    }

    static X509ExtendedTrustManager x509(TrustManager[] managers, String what) {
        for (TrustManager m : managers) {
            if (m instanceof X509ExtendedTrustManager x) {
                return x;
            }
        }
        throw new IllegalStateException(what + ": the trust manager factory made no X509 trust manager");
    }

    /** Presents whichever identity was set last. */
    static final class Keys extends X509ExtendedKeyManager {
        private volatile X509ExtendedKeyManager current;

        Keys(X509ExtendedKeyManager first) {
            current = Objects.requireNonNull(first, "first");
        }

        void use(X509ExtendedKeyManager next) {
            current = Objects.requireNonNull(next, "next");
        }

        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
            return current.getClientAliases(keyType, issuers);
        }

        @Override
        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
            return current.chooseClientAlias(keyType, issuers, socket);
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
            return current.getServerAliases(keyType, issuers);
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
            return current.chooseServerAlias(keyType, issuers, socket);
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            return current.getCertificateChain(alias);
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
            return current.getPrivateKey(alias);
        }

        @Override
        public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
            return current.chooseEngineClientAlias(keyType, issuers, engine);
        }

        @Override
        public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
            return current.chooseEngineServerAlias(keyType, issuers, engine);
        }
    }

    /** Judges certificates by whichever CA set was set last. */
    static final class Trust extends X509ExtendedTrustManager {
        private volatile X509ExtendedTrustManager current;

        Trust(X509ExtendedTrustManager first) {
            current = Objects.requireNonNull(first, "first");
        }

        void use(X509ExtendedTrustManager next) {
            current = Objects.requireNonNull(next, "next");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            current.checkClientTrusted(chain, authType, socket);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            current.checkServerTrusted(chain, authType, socket);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            current.checkClientTrusted(chain, authType, engine);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            current.checkServerTrusted(chain, authType, engine);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            current.checkClientTrusted(chain, authType);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            current.checkServerTrusted(chain, authType);
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return current.getAcceptedIssuers();
        }
    }
}
