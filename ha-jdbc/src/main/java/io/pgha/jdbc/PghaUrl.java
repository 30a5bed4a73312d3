package io.pgha.jdbc;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A parsed {@code jdbc:pgha:<source>://host[:port][,host[:port]...]/<scope>/<database>[?key=value&...]} URL.
 * Errors name the part of the URL and the rule it breaks.
 *
 * @param source   {@code zookeeper}, {@code etcd}, {@code consul} or {@code rest}
 * @param hosts    {@code host:port}, the source's default port filled in
 * @param query    the query's properties, decoded, in order
 */
record PghaUrl(String source, List<String> hosts, String scope, String database, Map<String, String> query) {

    static final String PREFIX = "jdbc:pgha:";
    /** Each source's default port: ZooKeeper's, etcd's client, Consul's HTTP and Patroni's REST port. */
    private static final Map<String, Integer> DEFAULT_PORTS = Map.of("zookeeper", 2181, "etcd", 2379,
            "consul", 8500, "rest", 8008);
    private static final String FORM = PREFIX + "<zookeeper|etcd|consul|rest>://host[:port][,host[:port]...]"
            + "/<scope>/<database>[?key=value&...]";

    PghaUrl {
        hosts = List.copyOf(hosts);
        query = Map.copyOf(query);
    }

    static boolean accepts(String url) {
        return url != null && url.regionMatches(true, 0, PREFIX, 0, PREFIX.length());
    }

    /** @throws IllegalArgumentException naming the part and the rule */
    static PghaUrl parse(String url) {
        if (!accepts(url)) {
            throw bad("prefix", "the URL must start with " + PREFIX, url);
        }
        String rest = url.substring(PREFIX.length());
        int sep = rest.indexOf("://");
        if (sep < 0) {
            throw bad("source", "expected <source>:// after " + PREFIX, url);
        }
        String source = rest.substring(0, sep);
        Integer defaultPort = DEFAULT_PORTS.get(source);
        if (defaultPort == null) {
            throw bad("source", "'" + source + "' is not one of zookeeper, etcd, consul, rest", url);
        }
        rest = rest.substring(sep + 3);
        int q = rest.indexOf('?');
        String query = q < 0 ? "" : rest.substring(q + 1);
        rest = q < 0 ? rest : rest.substring(0, q);
        int slash = rest.indexOf('/');
        String authority = slash < 0 ? rest : rest.substring(0, slash);
        String path = slash < 0 ? "" : rest.substring(slash + 1);

        List<String> hosts = new ArrayList<>();
        for (String h : authority.split(",", -1)) {
            hosts.add(hostPort(h, defaultPort, url));
        }
        String[] segments = path.split("/", -1);
        if (segments.length != 2 || segments[0].isEmpty() || segments[1].isEmpty()) {
            throw bad("path", "expected /<scope>/<database> after the hosts (got '/" + path + "')", url);
        }
        return new PghaUrl(source, hosts, decode(segments[0], "scope", url), decode(segments[1], "database", url),
                query(query, url));
    }

    private static String hostPort(String h, int defaultPort, String url) {
        if (h.isEmpty()) {
            throw bad("hosts", "a comma-separated list of host[:port], none empty", url);
        }
        String host = h;
        String port = null;
        if (h.startsWith("[")) {
            int close = h.indexOf(']');
            if (close < 0) {
                throw bad("hosts", "an IPv6 address must be closed with ] (got '" + h + "')", url);
            }
            host = h.substring(0, close + 1);
            String after = h.substring(close + 1);
            if (!after.isEmpty()) {
                if (!after.startsWith(":")) {
                    throw bad("hosts", "expected :port after " + host + " (got '" + h + "')", url);
                }
                port = after.substring(1);
            }
        } else {
            int colon = h.indexOf(':');
            if (colon >= 0) {
                host = h.substring(0, colon);
                port = h.substring(colon + 1);
            }
        }
        if (host.isEmpty() || host.contains("@")) {
            throw bad("hosts", "host[:port] with a host name, no user info (got '" + h + "')", url);
        }
        int p = defaultPort;
        if (port != null) {
            try {
                p = Integer.parseInt(port);
            } catch (NumberFormatException e) {
                p = -1;
            }
            if (p < 1 || p > 65535) {
                throw bad("hosts", "a port must be a number from 1 to 65535 (got '" + h + "')", url);
            }
        }
        return host + ":" + p;
    }

    private static Map<String, String> query(String query, String url) {
        Map<String, String> out = new LinkedHashMap<>();
        if (query.isEmpty()) {
            return out;
        }
        for (String pair : query.split("&", -1)) {
            int eq = pair.indexOf('=');
            if (eq <= 0) {
                throw bad("query", "each parameter must be key=value (got '" + pair + "')", url);
            }
            String key = decode(pair.substring(0, eq), "query", url);
            if (out.put(key, decode(pair.substring(eq + 1), "query", url)) != null) {
                throw bad("query", "parameter '" + key + "' is given twice", url);
            }
        }
        return out;
    }

    private static String decode(String s, String part, String url) {
        try {
            return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw bad(part, "bad percent-encoding in '" + s + "'", url);
        }
    }

    private static IllegalArgumentException bad(String part, String rule, String url) {
        return new IllegalArgumentException("malformed pgha URL, " + part + ": " + rule + "; expected " + FORM
                + " (got " + redact(url) + ")");
    }

    /** The URL with any {@code password=...} value hidden, for messages. */
    static String redact(String url) {
        return url == null ? "null" : url.replaceAll("(?i)(password=)[^&]*", "$1***");
    }
}
