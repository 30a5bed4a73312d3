package io.pgha.jdbc;

import io.pgha.core.config.Credentials;
import io.pgha.core.config.TlsClient;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Follows a cluster by polling {@code GET /cluster} on its members' REST APIs (pgha's or Patroni's), every
 * {@code pollInterval} and at once on a hint. This is the one source without a push: a leader change is seen at the
 * next poll. The URLs are tried in turn, starting with the one that answered last, each with {@code timeout}.
 *
 * <p>{@code /cluster} has no leader-key version, so the epoch is this source's own count of leaderships: it goes up
 * whenever the leader's name changes, its timeline goes up, or a leader appears after none (docs/decisions 0806).
 */
final class RestTopologySource extends ReadingTopologySource {

    private final List<URI> clusterUrls;
    private final String scope;
    private final Credentials credentials;
    private final Duration timeout;
    private final HttpClient http;
    /** The following fields are only touched on the reading thread. */
    private int preferred;
    private String epochLeader;
    private long epochTimeline;
    private long epoch;

    /**
     * @param baseUrls    the members' REST API base URLs ({@code http://h1:8008})
     * @param credentials basic auth for the requests; null to send none ({@code GET /cluster} is open on pgha)
     * @param tls         trust (and a client certificate) for {@code https://} URLs; null for the JDK's default
     */
    RestTopologySource(List<URI> baseUrls, String scope, Credentials credentials, TlsClient tls,
                       Duration pollInterval, Duration timeout) {
        super(pollInterval);
        List<URI> urls = new ArrayList<>();
        for (URI u : baseUrls) {
            String s = u.toString();
            urls.add(URI.create((s.endsWith("/") ? s.substring(0, s.length() - 1) : s) + "/cluster"));
        }
        this.clusterUrls = List.copyOf(urls);
        this.scope = scope;
        this.credentials = credentials;
        this.timeout = timeout;
        HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(timeout)
                .followRedirects(HttpClient.Redirect.NEVER);
        if (tls != null) {
            b.sslContext(tls.sslContext());
        }
        this.http = b.build();
    }

    @Override
    Topology read() throws IOException {
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < clusterUrls.size() && !closed(); i++) {
            int k = (preferred + i) % clusterUrls.size();
            URI url = clusterUrls.get(k);
            try {
                ClusterDocument d = fetch(url);
                Topology t = toTopology(d);
                preferred = k;
                return t;
            } catch (IOException e) {
                problems.add(url + ": " + e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted");
            }
        }
        throw new IOException("no REST API answered GET /cluster (" + String.join("; ", problems) + ")");
    }

    private ClusterDocument fetch(URI url) throws IOException, InterruptedException {
        HttpRequest.Builder req = HttpRequest.newBuilder(url).timeout(timeout).header("Accept", "application/json")
                .GET();
        if (credentials != null) {
            req.header("Authorization", credentials.header());
        }
        HttpResponse<byte[]> r = http.send(req.build(), HttpResponse.BodyHandlers.ofByteArray());
        if (r.statusCode() != 200) {
            throw new IOException("HTTP " + r.statusCode()
                    + (r.statusCode() == 401 ? " (the REST API wants credentials: restUser/restPassword)" : ""));
        }
        return ClusterDocument.parse(r.body());
    }

    private Topology toTopology(ClusterDocument d) throws IOException {
        if (d.scope() != null && !d.scope().equals(scope)) {
            throw new IOException("serves scope '" + d.scope() + "', not '" + scope + "'");
        }
        if (d.leader() == null) {
            epochLeader = null;
            return new Topology(null, 0, d.members(), true, true, null);
        }
        if (!d.leader().equals(epochLeader) || d.leaderTimeline() > epochTimeline) {
            // A leader whose key was published before it promoted shows its old timeline first: counted twice,
            // which only soft-evicts its fresh pool once more. A lower timeline is not refused (a lagging member
            // could answer so), since a write connection is verified primary anyway (decision 0803).
            epoch++;
            epochLeader = d.leader();
            epochTimeline = d.leaderTimeline();
        }
        return new Topology(d.leader(), epoch, d.members(), true, true, null);
    }

    @Override
    public String describe() {
        return "scope " + scope + " via REST " + clusterUrls.stream().map(u -> u.getAuthority())
                .collect(Collectors.joining(","));
    }
}
