package io.pgha.core.config;

import java.time.Duration;
import java.util.Objects;

/**
 * How the REST API listens and behaves. Built with {@link #builder()}; every value is validated there.
 *
 * @param listenHost          address to bind, e.g. {@code 0.0.0.0} or {@code 127.0.0.1}
 * @param port                port to bind; 0 picks a free one (the bound REST API tells which)
 * @param credentials         basic-auth credentials demanded on POST, PUT, PATCH and DELETE; null = open
 * @param threads             request-handling threads
 * @param queueSize           requests that may wait for a thread; beyond that a new connection is closed at once
 * @param maxBodyBytes        larger request bodies are refused with 413
 * @param switchoverPoll      how often a waiting {@code POST /switchover} re-reads the DCS
 * @param switchoverTimeout   how long it waits for the new leader; null = Patroni's 2 x max(10 s, loopWait)
 * @param version             reported as {@code patroni.version} in the status JSON
 */
public record RestSettings(
        String listenHost,
        int port,
        Credentials credentials,
        int threads,
        int queueSize,
        int maxBodyBytes,
        Duration switchoverPoll,
        Duration switchoverTimeout,
        String version) {

    /** pgha's own version, reported where Patroni reports its version. */
    public static final String PGHA_VERSION = "0.1.0";

    public RestSettings {
        Objects.requireNonNull(listenHost, "listenHost");
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("REST port must be 0..65535 (got " + port + ")");
        }
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

    public static Builder builder() {
        return new Builder();
    }

    /** Defaults: 127.0.0.1:8008, no credentials, 4 threads, 32 queued, 1 MiB bodies, poll 1 s, Patroni's timeout. */
    public static final class Builder {
        private String listenHost = "127.0.0.1";
        private int port = 8008;
        private Credentials credentials;
        private int threads = 4;
        private int queueSize = 32;
        private int maxBodyBytes = 1 << 20;
        private Duration switchoverPoll = Duration.ofSeconds(1);
        private Duration switchoverTimeout;
        private String version = PGHA_VERSION;

        private Builder() {}

        public Builder listen(String host, int port) {
            this.listenHost = host;
            this.port = port;
            return this;
        }

        public Builder credentials(Credentials v) {
            credentials = v;
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

        public RestSettings build() {
            return new RestSettings(listenHost, port, credentials, threads, queueSize, maxBodyBytes, switchoverPoll,
                    switchoverTimeout, version);
        }
    }
}
