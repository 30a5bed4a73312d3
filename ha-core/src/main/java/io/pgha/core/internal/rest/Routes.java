package io.pgha.core.internal.rest;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.config.Durations;
import io.pgha.core.config.RestSettings;
import io.pgha.core.internal.admin.AdminResult;
import io.pgha.core.internal.ha.FailsafePingVerdict;
import io.pgha.core.spi.DcsUnavailableException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
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
    private static final Set<String> NOT_IMPLEMENTED = Set.of("/mpp", "/citus");

    private final RestBackend backend;
    private final RestSettings settings;
    private final String prefix;

    Routes(RestBackend backend, RestSettings settings, String prefix) {
        this.backend = backend;
        this.settings = settings;
        this.prefix = prefix;
    }

    /** GET, HEAD and OPTIONS are answered alike; {@link RestApi} drops the body of the latter two. */
    Response handle(Request r) {
        try {
            return switch (r.method()) {
                case "GET", "HEAD", "OPTIONS" -> get(r);
                case "POST" -> post(r);
                case "PATCH" -> r.path().equals("/config")
                        ? answer(backend.admin().patchConfig(RestJson.toMap(HttpProblem.jsonObject(r))), 503)
                        : other(r);
                case "PUT" -> r.path().equals("/config")
                        ? answer(backend.admin().replaceConfig(RestJson.toMap(HttpProblem.jsonObject(r))), 502)
                        : other(r);
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
            com.fasterxml.jackson.databind.node.ObjectNode o = StatusJson.of(backend.status(), settings.version());
            // patronictl lists it from the member key; Patroni's own endpoint shows it too.
            backend.admin().member().scheduledRestart().ifPresent(m -> o.set("scheduled_restart",
                    RestJson.MAPPER.valueToTree(m)));
            return Response.json(200, o);
        }
        if (path.equals("/metrics")) {
            String text = MetricsText.render(backend.status(), settings.version(), backend.haMetrics());
            return new Response(200, MetricsText.CONTENT_TYPE, text.getBytes(StandardCharsets.UTF_8), Map.of());
        }
        Optional<HealthCheck> check = HealthCheck.forPath(path);
        if (check.isPresent()) {
            NodeStatus s = backend.status();
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
                NodeStatus s = backend.status();
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
                return Response.json(200, RestJson.MAPPER.valueToTree(v.config().json()));
            }
            case "/failsafe": {
                NodeStatus s = backend.status();
                if (!s.settings().failsafeMode()) {
                    throw new HttpProblem(502, "failsafe mode is not enabled");
                }
                Map<String, String> members = s.view() == null || s.view().failsafe() == null ? Map.of()
                        : s.view().failsafe();
                return Response.json(200, RestJson.MAPPER.valueToTree(new TreeMap<>(members)));
            }
            default:
                break;
        }
        return other(r);
    }

    private Response post(Request r) throws HttpProblem {
        return switch (r.path()) {
            case "/switchover", "/failover" -> manual(r);
            case "/failsafe" -> failsafe(r);
            case "/restart" -> restart(r);
            case "/reinitialize" -> answer(backend.admin().member().reinitialize(flag(optionalObject(r), "force")), 503);
            case "/reload" -> answer(backend.admin().member().reload(), 503);
            default -> other(r);
        };
    }

    /**
     * {@code POST /restart}: Patroni's body fields ({@code schedule}, {@code role}, {@code postgres_version},
     * {@code restart_pending}); any other field is refused, as Patroni does.
     */
    private Response restart(Request r) throws HttpProblem {
        JsonNode body = optionalObject(r);
        for (java.util.Iterator<String> it = body.fieldNames(); it.hasNext();) {
            String k = it.next();
            switch (k) {
                case "schedule", "role", "postgres_version", "restart_pending", "timeout":
                    break;
                default:
                    throw new HttpProblem(400, "Unknown filter for the scheduled restart: " + k);
            }
        }
        // Patroni restarts only on pending_restart whenever the field is there, whatever its value.
        return answer(backend.admin().member().restart(text(body, "schedule"), text(body, "role"),
                text(body, "postgres_version"), body.has("restart_pending"), restartTimeout(body.get("timeout"))),
                503);
    }

    /**
     * Patroni's restart {@code timeout}: seconds as a number, or a string with a unit ({@code 30}, {@code "30s"},
     * {@code "2min"}, {@code "1h"}, {@code "500ms"}); null when absent.
     */
    static Duration restartTimeout(JsonNode t) throws HttpProblem {
        if (t == null || t.isNull()) {
            return null;
        }
        if (t.isNumber()) {
            return Duration.ofMillis(Math.round(t.asDouble() * 1000));
        }
        Optional<Duration> d = Durations.parseWithUnit(t.asText());
        if (d.isEmpty()) {
            throw new HttpProblem(400, "timeout: expected seconds or a number with a unit (ms, s, min, h, d), got '"
                    + t.asText() + "'");
        }
        return d.get();
    }

    /** A body that may be absent or empty (patronictl sends none for some verbs): then an empty object. */
    private static JsonNode optionalObject(Request r) throws HttpProblem {
        if (r.body().length == 0 || new String(r.body(), StandardCharsets.UTF_8).isBlank()) {
            return RestJson.MAPPER.createObjectNode();
        }
        return HttpProblem.jsonObject(r);
    }

    /** Patroni's lenient boolean: true, "true", "yes", "on", "1", 1. */
    private static boolean flag(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return false;
        }
        if (v.isBoolean()) {
            return v.booleanValue();
        }
        if (v.isNumber()) {
            return v.intValue() != 0;
        }
        return Set.of("true", "yes", "on", "1", "y").contains(v.asText().trim().toLowerCase(Locale.ROOT));
    }

    private Response delete(Request r) throws HttpProblem {
        if (r.path().equals("/switchover")) {
            return answer(backend.admin().cancelScheduledSwitchover(), 503);
        }
        if (r.path().equals("/restart")) {
            return answer(backend.admin().member().cancelScheduledRestart(), 503);
        }
        return other(r);
    }

    /**
     * A primary cut off from the DCS asks whether it may keep running. Only a member that does not run as primary
     * itself, and last saw the sender holding the lock, confirms (200); answering 200 also tells our HA loop not to
     * race for the lock while the pings last. A ping from anyone else is a 409 and changes nothing.
     */
    private Response failsafe(Request r) throws HttpProblem {
        NodeStatus s = backend.status();
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
        FailsafePingVerdict verdict = backend.failsafePing(name.textValue());
        if (!verdict.accepted()) {
            throw new HttpProblem(409, verdict.refusal());
        }
        Response ok = Response.text(200, "Accepted");
        return s.pg().walPosition() == null ? ok : ok.withHeader("lsn", Long.toString(s.pg().walPosition().value()));
    }

    private ClusterView read() throws HttpProblem {
        try {
            return backend.admin().readCluster();
        } catch (DcsUnavailableException e) {
            throw new HttpProblem(503, "DCS is not accessible: " + e.getMessage());
        }
    }

    /** {@code POST /switchover} and {@code POST /failover}: Patroni's body fields, the admin's verdict. */
    private Response manual(Request r) throws HttpProblem {
        JsonNode body = HttpProblem.jsonObject(r);
        String leader = text(body, "leader");
        String candidate = text(body, "candidate");
        if (candidate == null) {
            candidate = text(body, "member");
        }
        String at = text(body, "scheduled_at");
        return answer(r.path().equals("/switchover") ? backend.admin().switchover(leader, candidate, at)
                : backend.admin().failover(leader, candidate, at), 503);
    }

    /**
     * Patroni's status codes for an admin result: 200 done (the config document as JSON, else the message), 202
     * scheduled, 400/412/422/404/503 refused, 409 conflict, {@code unavailable} (503, or 502 for {@code PUT /config}).
     */
    private static Response answer(AdminResult result, int unavailable) throws HttpProblem {
        if (result instanceof AdminResult.Done d) {
            return d.document() != null ? Response.json(200, RestJson.MAPPER.valueToTree(d.document()))
                    : Response.text(200, d.message());
        }
        if (result instanceof AdminResult.Accepted a) {
            return Response.text(202, a.message());
        }
        if (result instanceof AdminResult.Refused f) {
            throw new HttpProblem(switch (f.why()) {
                case INVALID -> 400;
                case NOT_POSSIBLE -> 412;
                case UNUSABLE -> 422;
                case NOTHING_TO_DO -> 404;
                case NOT_NOW -> 503;
            }, f.message());
        }
        throw new HttpProblem(result instanceof AdminResult.Conflict ? 409 : unavailable, result.message());
    }

    private static String text(JsonNode body, String field) throws HttpProblem {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw new HttpProblem(400, field + ": expected a string, got " + v.getNodeType().toString()
                    .toLowerCase(Locale.ROOT));
        }
        String s = v.textValue().trim();
        return s.isEmpty() ? null : s;
    }

    private static boolean isKnown(String path) {
        return switch (path) {
            case "/patroni", "/metrics", "/cluster", "/history", "/config", "/failsafe", "/switchover", "/failover",
                    "/restart", "/reinitialize", "/reload" -> true;
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
