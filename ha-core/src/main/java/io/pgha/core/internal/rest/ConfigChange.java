package io.pgha.core.internal.rest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.DcsVersion;
import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsUnavailableException;

/** {@code PATCH /config} and {@code PUT /config}: changes of the cluster-wide dynamic configuration. */
final class ConfigChange {

    private final RestBackend backend;

    ConfigChange(RestBackend backend) {
        this.backend = backend;
    }

    /**
     * JSON merge patch of the {@code config} key with compare-and-set on the version read: 200 with the result,
     * 409 when someone changed the key in between, 503 when the key is missing or the DCS out of reach.
     */
    Response patch(Request r) throws HttpProblem {
        JsonNode patch = HttpProblem.jsonObject(r);
        ClusterView v = read();
        if (v.config().isAbsent()) {
            throw new HttpProblem(503, "the cluster has no (readable) config key to patch" + problemFor(v));
        }
        GlobalConfig merged;
        try {
            merged = v.config().mergePatch(patch);
        } catch (IllegalArgumentException e) {
            throw new HttpProblem(400, "invalid config: " + e.getMessage());
        }
        check(merged);
        try {
            if (!backend.writeConfig(merged, v.config().version())) {
                throw new HttpProblem(409, "the config key was changed concurrently; read it again and retry");
            }
        } catch (DcsUnavailableException e) {
            throw new HttpProblem(503, "DCS is not accessible: " + e.getMessage());
        }
        backend.wakeup();
        return Response.json(200, merged.json());
    }

    /** Unconditional replace: 200 with the new config, 502 when the DCS write fails. */
    Response put(Request r) throws HttpProblem {
        JsonNode body = HttpProblem.jsonObject(r);
        GlobalConfig c;
        try {
            c = new GlobalConfig((ObjectNode) body, DcsVersion.ABSENT);
        } catch (IllegalArgumentException e) {
            throw new HttpProblem(400, "invalid config: " + e.getMessage());
        }
        check(c);
        try {
            if (!backend.writeConfig(c, Dcs.ANY_VERSION)) {
                throw new HttpProblem(409, "the config key could not be replaced");
            }
        } catch (DcsUnavailableException e) {
            throw new HttpProblem(502, "writing the config key failed: " + e.getMessage());
        }
        backend.wakeup();
        return Response.json(200, c.json());
    }

    /** A config every member would reject is refused here rather than written and then ignored. */
    private void check(GlobalConfig c) throws HttpProblem {
        try {
            backend.checkConfig(c);
        } catch (IllegalArgumentException e) {
            throw new HttpProblem(400, "invalid config: " + e.getMessage());
        }
    }

    private ClusterView read() throws HttpProblem {
        try {
            return backend.readCluster();
        } catch (DcsUnavailableException e) {
            throw new HttpProblem(503, "DCS is not accessible: " + e.getMessage());
        }
    }

    private static String problemFor(ClusterView v) {
        return v.problems().stream().filter(p -> p.contains("/config:")).findFirst().map(p -> " (" + p + ")")
                .orElse("");
    }
}
