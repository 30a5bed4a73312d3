package io.pgha.core.config;

import java.net.Socket;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.Objects;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The client side of TLS to REST APIs: what a member uses to talk to its peers ({@code ctl.certfile},
 * {@code keyfile}, {@code keyfile_password}, {@code cacert}, {@code insecure}) and what ha-jdbc's REST source uses.
 * Files are read and checked when this is built; the password is not kept.
 */
public final class TlsClient {

    private final SSLContext sslContext;
    private final boolean insecure;
    private final String description;

    private TlsClient(SSLContext sslContext, boolean insecure, String description) {
        this.sslContext = sslContext;
        this.insecure = insecure;
        this.description = description;
    }

    /** From PEM files; errors name Patroni's {@code ctl.*} settings. */
    public static Builder builder() {
        return new Builder("ctl");
    }

    /** From PEM files; errors name the settings {@code <section>.certfile}, {@code <section>.cacert}, .... */
    public static Builder builder(String section) {
        return new Builder(Objects.requireNonNull(section, "section"));
    }

    /** A ready context: its key managers are the client certificate (if any), its trust managers judge servers. */
    public static TlsClient of(SSLContext context) {
        return new TlsClient(Objects.requireNonNull(context, "context"), false, "an SSLContext ("
                + context.getProtocol() + ")");
    }

    public SSLContext sslContext() {
        return sslContext;
    }

    /** True when servers' certificates are not checked at all ({@code ctl.insecure}). */
    public boolean insecure() {
        return insecure;
    }

    @Override
    public String toString() {
        return "TLS client from " + description + (insecure ? " (insecure: servers are not verified)" : "");
    }

    public static final class Builder extends PemIdentityBuilder<Builder> {
        private final String section;
        private Path cacert;
        private boolean insecure;

        private Builder(String section) {
            this.section = section;
        }

        @Override
        Builder self() {
            return this;
        }

        /** CA certificates that sign the servers' certificates; default the JDK's trust store. */
        public Builder cacert(Path v) {
            cacert = Objects.requireNonNull(v, "cacert");
            return this;
        }

        /**
         * Accept any server certificate, unchecked (Patroni's {@code ctl.insecure}): the connection is encrypted but
         * anyone on the path can pose as the server. For tests and bootstrapping only.
         */
        public Builder insecure(boolean v) {
            insecure = v;
            return this;
        }

        public TlsClient build() {
            if (keyfile != null && certfile == null) {
                throw new IllegalArgumentException(section + ".keyfile needs " + section + ".certfile (the client "
                        + "certificate it belongs to)");
            }
            KeyManager[] keys = keyManagers(section);
            TrustManager[] trust = insecure ? new TrustManager[] {new AnyServer()} : cacert == null ? null
                    : PemFiles.trustManagers(cacert, section + ".cacert").getTrustManagers();
            String d = (certfile == null ? "no client certificate" : "certfile " + certfile)
                    + (cacert == null ? "" : ", cacert " + cacert);
            return new TlsClient(RestTls.context(keys, trust), insecure, d);
        }
    }

    /**
     * Accepts every server certificate and, being an extended trust manager, also skips the host name check the JDK
     * would otherwise make.
     */
    private static final class AnyServer extends X509ExtendedTrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) {}

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {}

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {}

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {}

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
