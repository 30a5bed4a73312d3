package io.pgha.core.config;

import java.util.Objects;

/**
 * The part of the REST API's settings that a reload takes while the member runs, as Patroni's reload does: where it
 * listens ({@code restapi.listen}), the host published in its {@code api_url} ({@code restapi.connect_address}) and
 * whom its mutating endpoints let in ({@code restapi.authentication}). Checked by the same rules as
 * {@link RestSettings}.
 *
 * @param listenHost           address to bind
 * @param port                 port to bind; 0 picks a free one
 * @param connectHost          the host others reach the API by; null for PostgreSQL's connect host
 * @param credentials          basic-auth credentials for the mutating endpoints; null only with
 *                             {@code allowUnauthenticated}
 * @param allowUnauthenticated the mutating endpoints answer anyone who can reach the port
 */
public record RestEndpoint(String listenHost, int port, String connectHost, Credentials credentials,
        boolean allowUnauthenticated) {

    public RestEndpoint {
        RestSettings.checkAccess(listenHost, port, credentials, allowUnauthenticated);
        if (connectHost != null && connectHost.isBlank()) {
            throw new IllegalArgumentException("the REST connect host must not be blank");
        }
    }

    /** What a REST API built with {@code settings} and published under {@code connectHost} (or null) runs with. */
    public static RestEndpoint of(RestSettings settings, String connectHost) {
        Objects.requireNonNull(settings, "settings");
        return new RestEndpoint(settings.listenHost(), settings.port(), connectHost, settings.credentials(),
                settings.allowUnauthenticated());
    }

    /** {@code host:port} to listen on, as {@code restapi.listen} spells it. */
    public String listen() {
        return (listenHost.indexOf(':') >= 0 ? "[" + listenHost + "]" : listenHost) + ":" + port;
    }
}
