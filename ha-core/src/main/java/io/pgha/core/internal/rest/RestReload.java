package io.pgha.core.internal.rest;

import io.pgha.core.config.HostPort;
import io.pgha.core.config.RestEndpoint;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the operator's reload does with the REST API's re-read settings, as Patroni's reload does: a changed
 * {@code restapi.listen} moves the API to the new address ({@link RestApi#rebind}; one that cannot be bound keeps the
 * API where it is, and the answer says so, naming the setting), changed credentials apply to the next requests (and
 * to what the peers are sent, when they are sent the API's own), and a changed address or published host changes the
 * member's {@code api_url} from its next member-key write. Runs on the HA loop's thread, inside the reload.
 */
public final class RestReload implements Function<RestEndpoint, String> {

    private static final Logger LOG = LoggerFactory.getLogger(RestReload.class);

    private final RestApi api;
    private final HttpPeerClient peersSentOurs;
    private final String defaultHost;
    private final Consumer<String> publishApiUrl;
    private final String prefix;
    /** What the API runs with: the last re-read settings it took (a listen it could not bind is not among them). */
    private RestEndpoint current;

    /**
     * @param api           the member's running REST API
     * @param current       what it was started with
     * @param peersSentOurs the peer client when it sends the API's own credentials (no {@code ctl} ones); else null
     * @param defaultHost   the host published without a connect host (PostgreSQL's connect host)
     * @param publishApiUrl takes the member's new {@code api_url}
     */
    public RestReload(RestApi api, RestEndpoint current, HttpPeerClient peersSentOurs, String defaultHost,
            Consumer<String> publishApiUrl, String prefix) {
        this.api = Objects.requireNonNull(api, "api");
        this.current = Objects.requireNonNull(current, "current");
        this.peersSentOurs = peersSentOurs;
        this.defaultHost = Objects.requireNonNull(defaultHost, "defaultHost");
        this.publishApiUrl = Objects.requireNonNull(publishApiUrl, "publishApiUrl");
        this.prefix = prefix;
    }

    /** Takes {@code next}; says what changed (a listen that could not be bound included), or null for nothing. */
    @Override
    public synchronized String apply(RestEndpoint next) {
        List<String> done = new ArrayList<>();
        RestEndpoint taken = next;
        String urlBefore = apiUrl(current);
        if (!next.listen().equals(current.listen())) {
            try {
                String was = shown(current, api.address());
                InetSocketAddress at = api.rebind(next.listenHost(), next.port());
                done.add("restapi.listen " + was + " -> " + shown(next, at));
            } catch (IOException e) {
                String failed = "restapi.listen: cannot bind " + next.listen() + " (" + e.getMessage() + "); keeping "
                        + shown(current, api.address());
                LOG.warn("{}reload: {}", prefix, failed);
                done.add(failed);
                taken = new RestEndpoint(current.listenHost(), current.port(), next.connectHost(), next.credentials(),
                        next.allowUnauthenticated());
            }
        }
        if (!Objects.equals(next.credentials(), current.credentials())
                || next.allowUnauthenticated() != current.allowUnauthenticated()) {
            api.useCredentials(next.credentials());
            if (peersSentOurs != null) {
                peersSentOurs.useCredentials(next.credentials());
            }
            done.add("restapi.authentication " + (next.credentials() == null ? "off (allow_unauthenticated)"
                    : "now user " + next.credentials().username()));
        }
        current = taken;
        String url = apiUrl(taken);
        if (!url.equals(urlBefore)) {
            publishApiUrl.accept(url);
            done.add("api_url " + url);
        }
        return done.isEmpty() ? null : "REST API: " + String.join("; ", done);
    }

    private String apiUrl(RestEndpoint e) {
        return api.apiUrl(e.connectHost() != null ? e.connectHost() : defaultHost);
    }

    /** The listen address as the settings spell its host, with the port really bound (port 0 picks one). */
    private static String shown(RestEndpoint e, InetSocketAddress bound) {
        return new HostPort(e.listenHost(), bound.getPort()).toString();
    }
}
