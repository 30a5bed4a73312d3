package io.pgha.core.config;

import java.time.Duration;
import java.util.Objects;

/**
 * How the REST API listens and behaves. Built with {@link #builder()}; every value is validated there.
 *
 * @param listenHost          address to bind, e.g. {@code 0.0.0.0} or {@code 127.0.0.1}
 * @param port                port to bind; 0 picks a free one (the bound REST API tells which)
 * @param credentials         basic-auth credentials demanded on POST, PUT, PATCH and DELETE; null only together
 *                            with {@code allowUnauthenticated}
 * @param allowUnauthenticated the mutating endpoints answer anyone who can reach the port (an explicit opt-out,
 *                            warned about at start); excludes {@code credentials}
 * @param threads             request-handling threads
 * @param queueSize           requests that may wait for a thread; beyond that a new connection is closed at once
 * @param maxBodyBytes        larger request bodies are refused with 413
 * @param switchoverPoll      how often a waiting {@code POST /switchover} re-reads the DCS
 * @param switchoverTimeout   how long it waits for the new leader; null = Patroni's 2 x max(10 s, loopWait)
 * @param version             the implementation's own version, reported as {@code pgha.version} in the status JSON
 *                            and as {@code pgha_version_info} in {@code GET /metrics}; {@code patroni.version} always
 *                            says {@link #PATRONI_API_LEVEL}
 * @param tls                 TLS for the API ({@code https://}, optionally demanding client certificates); null for
 *                            plain HTTP
 */
public record RestSettings(
        String listenHost,
        int port,
        Credentials credentials,
        boolean allowUnauthenticated,
        int threads,
        int queueSize,
        int maxBodyBytes,
        Duration switchoverPoll,
        Duration switchoverTimeout,
        String version,
        RestTls tls) {

    /** pgha's own version, the default of {@code version}: reported as {@code pgha.version}. */
    public static final String PGHA_VERSION = "0.1.0";

    /**
     * The Patroni release whose REST shapes pgha answers in, reported as {@code patroni.version} and
     * {@code patroni_version}: clients written for Patroni read it to know which state names and fields to expect
     * (docs/decisions 0511). Not a setting: it changes only with the code that writes the shapes.
     */
    public static final String PATRONI_API_LEVEL = "4.0.7";

    /** How often a waiting switchover re-reads the DCS unless set otherwise (also without a REST API). */
    public static final Duration DEFAULT_SWITCHOVER_POLL = Duration.ofSeconds(1);

    /** What the credentials guard, for error messages and the start-up warning. */
    public static final String MUTATING_ENDPOINTS = "POST /switchover, POST /failover, POST /failsafe, "
            + "PATCH /config, PUT /config, DELETE /switchover";

    public RestSettings {
        checkAccess(listenHost, port, credentials, allowUnauthenticated);
        if (threads < 1) {
            throw new IllegalArgumentException("REST threads must be >= 1 (got " + threads + ")");
        }
        if (queueSize < 1) {
            throw new IllegalArgumentException("REST queueSize must be >= 1 (got " + queueSize + ")");
        }
        if (maxBodyBytes < 1) {
            throw new IllegalArgumentException("REST maxBodyBytes must be >= 1 (got " + maxBodyBytes + ")");
        }
        Objects.requireNonNull(switchoverPoll, "switchoverPoll");
        if (switchoverPoll.isNegative() || switchoverPoll.isZero()) {
            throw new IllegalArgumentException("switchoverPoll must be > 0 (got " + switchoverPoll + ")");
        }
        if (switchoverTimeout != null && (switchoverTimeout.isNegative() || switchoverTimeout.isZero())) {
            throw new IllegalArgumentException("switchoverTimeout must be > 0 (got " + switchoverTimeout + ")");
        }
        Objects.requireNonNull(version, "version");
    }

    /** The rules on the address and the credentials, shared with {@link RestEndpoint} (what a reload takes). */
    static void checkAccess(String listenHost, int port, Credentials credentials, boolean allowUnauthenticated) {
        Objects.requireNonNull(listenHost, "listenHost");
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("REST port must be 0..65535 (got " + port + ")");
        }
        if (credentials == null && !allowUnauthenticated) {
            throw new IllegalArgumentException("REST credentials are required: without them anyone who can reach "
                    + listenHost + ":" + port + " could " + MUTATING_ENDPOINTS + "; set credentials(username, "
                    + "password) (the same on every member), or allowUnauthenticated() to accept that on a trusted "
                    + "network");
        }
        if (credentials != null && allowUnauthenticated) {
            throw new IllegalArgumentException("REST credentials and allowUnauthenticated() exclude each other: "
                    + "with credentials every mutating request must carry them");
        }
    }

    /** {@code https} with TLS, else {@code http}. */
    public String scheme() {
        return tls == null ? "http" : "https";
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Defaults: 127.0.0.1:8008, 4 threads, 32 queued, 1 MiB bodies, poll 1 s, Patroni's timeout. No default for
     * the credentials: {@link #build()} fails unless {@link #credentials} or {@link #allowUnauthenticated()} was set.
     */
    public static final class Builder {
        private String listenHost = "127.0.0.1";
        private int port = 8008;
        private Credentials credentials;
        private boolean allowUnauthenticated;
        private int threads = 4;
        private int queueSize = 32;
        private int maxBodyBytes = 1 << 20;
        private Duration switchoverPoll = DEFAULT_SWITCHOVER_POLL;
        private Duration switchoverTimeout;
        private String version = PGHA_VERSION;
        private RestTls tls;

        private Builder() {}

        public Builder listen(String host, int port) {
            this.listenHost = host;
            this.port = port;
            return this;
        }

        /** Basic-auth credentials demanded on POST, PUT, PATCH and DELETE ({@code restapi.authentication}). */
        public Builder credentials(Credentials v) {
            credentials = Objects.requireNonNull(v, "credentials");
            return this;
        }

        public Builder credentials(String username, String password) {
            return credentials(new Credentials(username, password));
        }

        /**
         * Serve the mutating endpoints ({@link #MUTATING_ENDPOINTS}) to anyone who can reach the port, without
         * credentials: only on a network where every client is trusted. Logged as a warning when the API starts.
         */
        public Builder allowUnauthenticated() {
            allowUnauthenticated = true;
            return this;
        }

        public Builder threads(int v) {
            threads = v;
            return this;
        }

        public Builder queueSize(int v) {
            queueSize = v;
            return this;
        }

        public Builder maxBodyBytes(int v) {
            maxBodyBytes = v;
            return this;
        }

        public Builder switchoverPoll(Duration v) {
            switchoverPoll = v;
            return this;
        }

        public Builder switchoverTimeout(Duration v) {
            switchoverTimeout = v;
            return this;
        }

        public Builder version(String v) {
            version = v;
            return this;
        }

        /**
         * Serve over TLS ({@code https://}, also in the published {@code api_url}); default plain HTTP. See
         * {@link RestTls#pem()} for Patroni's {@code restapi.certfile}/{@code keyfile}/{@code cafile}/
         * {@code verify_client}.
         */
        public Builder tls(RestTls v) {
            tls = Objects.requireNonNull(v, "tls");
            return this;
        }

        public RestSettings build() {
            return new RestSettings(listenHost, port, credentials, allowUnauthenticated, threads, queueSize,
                    maxBodyBytes, switchoverPoll, switchoverTimeout, version, tls);
        }
    }
}
