package io.pgha.core.cluster;

import io.pgha.core.config.Names;
import java.util.Objects;

/**
 * Patroni's key layout: {@code <namespace>/<scope>/<key>}, e.g. {@code /service/orders/leader}.
 *
 * @param namespace DCS prefix, {@code /service} by default; always starts with {@code /} and never ends with one
 * @param scope     the cluster name
 */
public record KeyLayout(String namespace, String scope) {

    public static final String DEFAULT_NAMESPACE = Names.DEFAULT_NAMESPACE;

    public static final String LEADER = "leader";
    public static final String MEMBERS = "members/";
    public static final String CONFIG = "config";
    public static final String SYNC = "sync";
    public static final String FAILOVER = "failover";
    public static final String HISTORY = "history";
    public static final String INITIALIZE = "initialize";
    public static final String STATUS = "status";
    public static final String FAILSAFE = "failsafe";
    /** Legacy position key written by Patroni before 2.1; read only when {@code status} is absent. */
    public static final String LEGACY_OPTIME = "optime/leader";

    public KeyLayout {
        Objects.requireNonNull(scope, "scope");
        if (scope.isBlank() || scope.contains("/")) {
            throw new IllegalArgumentException("scope must be a non-empty name without '/' (got '" + scope + "')");
        }
        namespace = Names.namespace(namespace);
    }

    public static KeyLayout of(String scope) {
        return new KeyLayout(DEFAULT_NAMESPACE, scope);
    }

    /** The cluster prefix with a trailing slash, e.g. {@code /service/orders/}. */
    public String prefix() {
        return (namespace.equals("/") ? "" : namespace) + "/" + scope + "/";
    }

    /** The absolute path of a key relative to the cluster prefix. */
    public String key(String relative) {
        return prefix() + relative;
    }

    public String leader() {
        return key(LEADER);
    }

    public String member(String name) {
        return key(MEMBERS + name);
    }

    /** The key relative to the prefix, or null when {@code absolute} lies outside this cluster. */
    public String relative(String absolute) {
        String p = prefix();
        return absolute.startsWith(p) ? absolute.substring(p.length()) : null;
    }
}
