package io.pgha.core.internal.rest;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgha.core.cluster.ClusterView;
import io.pgha.core.config.RestSettings;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.spi.PatroniJson;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Maps a {@link Request} to a {@link Response}: the whole API apart from the HTTP plumbing and authentication
 * ({@link RestApi}). Runs on a request thread; never touches the HA loop's threads.
 */
final class Routes {

    private static final Logger LOG = LoggerFactory.getLogger(Routes.class);

    /** Endpoints pgha knows but does not implement yet: an explicit 501 beats a misleading 404. */
    private static final Set<String> NOT_IMPLEMENTED = Set.of("/restart", "/reload", "/reinitialize", "/mpp",
            "/citus", "/metrics");

    private final RestBackend backend;
    private final RestSettings settings;
    private final String prefix;
    private final ConfigChange config;
    private final ManualFailover failover;

    Routes(RestBackend backend, RestSettings settings, String prefix) {
        this.backend = backend;
        this.settings = settings;
        this.prefix = prefix;
        this.config = new ConfigChange(backend);
        this.failover = new ManualFailover(backend, settings, prefix);
    }

    /** GET, HEAD and OPTIONS are answered alike; {@link RestApi} drops the body of the latter two. */
    Response handle(Request r) {
        try {
            return switch (r.method()) {
                case "GET", "HEAD", "OPTIONS" -> get(r);
                case "POST" -> post(r);
                case "PATCH" -> r.path().equals("/config") ? config.patch(r) : other(r);
                case "PUT" -> r.path().equals("/config") ? config.put(r) : other(r);
                case "DELETE" -> delete(r);
                default -> Response.text(405, "method " + r.method() + " is not supported");
            };
        } catch (HttpProblem p) {
            // The DCS out of reach is worth a warning; the rest is the caller's business, kept for the record.
            if (p.status() == 503) {
                LOG.warn("{}{} {}: {} {}", prefix, r.method(), r.path(), p.status(), p.getMessage());
            } else {
                LOG.info("{}{} {}: {} {}", prefix, r.method(), r.path(), p.status(), p.getMessage());
            }
            return p.response();
        }
    }

    private Response get(Request r) throws HttpProblem {
        String path = r.path();
        if (path.equals("/patroni")) {
            return Response.json(200, StatusJson.of(backend.snapshot(), settings.version()));
        }
        Optional<HealthCheck> check = HealthCheck.forPath(path);
        if (check.isPresent()) {
            NodeSnapshot s = backend.snapshot();
            int code;
            try {
                code = check.get().evaluate(s, r.query());
            } catch (IllegalArgumentException e) {
                throw new HttpProblem(400, e.getMessage());
            }
            return check.get().hasBody() ? Response.json(code, StatusJson.of(s, settings.version()))
                    : Response.empty(code);
        }
        switch (path) {
            case "/cluster": {
                ClusterView v = read();
                NodeSnapshot s = backend.snapshot();
                return Response.json(200, ClusterJson.cluster(v, s.settings().scope(),
                        s.settings().synchronousMode()));
            }
            case "/history":
                return Response.json(200, ClusterJson.history(read().history()));
            case "/config": {
                ClusterView v = read();
                if (v.config().isAbsent()) {
                    throw new HttpProblem(502, "the cluster has no config key");
                }
                return Response.json(200, v.config().json());
            }
            case "/failsafe": {
                NodeSnapshot s = backend.snapshot();
                if (!s.settings().failsafeMode()) {
                    throw new HttpProblem(502, "failsafe mode is not enabled");
                }
                Map<String, String> members = s.view() == null || s.view().failsafe() == null ? Map.of()
                        : s.view().failsafe();
                return Response.json(200, PatroniJson.MAPPER.valueToTree(new TreeMap<>(members)));
            }
            default:
                break;
        }
        return other(r);
    }

    private Response post(Request r) throws HttpProblem {
        return switch (r.path()) {
            case "/switchover" -> failover.post(r, ManualFailover.Kind.SWITCHOVER);
            case "/failover" -> failover.post(r, ManualFailover.Kind.FAILOVER);
            case "/failsafe" -> failsafe(r);
            default -> other(r);
        };
    }

    private Response delete(Request r) throws HttpProblem {
        if (r.path().equals("/switchover")) {
            return failover.deleteScheduled();
        }
        return other(r);
    }

    /**
     * A primary cut off from the DCS asks whether it may keep running. Only a member that does not run as primary
     * itself confirms (200); answering 200 also tells our HA loop not to race for the lock while the pings last.
     */
    private Response failsafe(Request r) throws HttpProblem {
        NodeSnapshot s = backend.snapshot();
        if (!s.settings().failsafeMode()) {
            throw new HttpProblem(502, "failsafe mode is not enabled");
        }
        JsonNode body = HttpProblem.jsonObject(r);
        JsonNode name = body.get("name");
        if (name == null || !name.isTextual() || name.textValue().isBlank()) {
            throw new HttpProblem(400, "name: the primary's member name is required");
        }
        if (s.pg().isRunningPrimary()) {
            return Response.text(500, "Running as a leader");
        }
        backend.failsafePing(name.textValue());
        Response ok = Response.text(200, "Accepted");
        return s.pg().walPosition() == null ? ok : ok.withHeader("lsn", Long.toString(s.pg().walPosition().value()));
    }

    private ClusterView read() throws HttpProblem {
        try {
            return backend.readCluster();
        } catch (DcsUnavailableException e) {
            throw new HttpProblem(503, "DCS is not accessible: " + e.getMessage());
        }
    }

    private static boolean isKnown(String path) {
        return switch (path) {
            case "/patroni", "/cluster", "/history", "/config", "/failsafe", "/switchover", "/failover" -> true;
            default -> HealthCheck.forPath(path).isPresent();
        };
    }

    /** A path this method does not serve: 405 if another method does, 501 if pgha lacks it, else 404. */
    private static Response other(Request r) {
        if (isKnown(r.path())) {
            return Response.text(405, r.method() + " is not allowed on " + r.path());
        }
        if (NOT_IMPLEMENTED.contains(r.path())) {
            return Response.text(501, r.method() + " " + r.path() + " is not implemented by pgha");
        }
        return Response.text(404, "no such endpoint: " + r.path());
    }

}
