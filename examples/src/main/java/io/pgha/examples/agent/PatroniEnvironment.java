package io.pgha.examples.agent;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Patroni's {@code PATRONI_*} environment variables over the YAML document, as Patroni applies them: a variable always
 * wins over the file, and {@code PATRONI_CONFIGURATION} (a whole YAML document) replaces the file and every other
 * variable. Only the member-local settings Patroni reads from the environment are mapped; a variable this agent does
 * not know is left alone (Patroni's bootstrap users {@code PATRONI_<user>_PASSWORD} are not created by pgha).
 */
final class PatroniEnvironment {

    /** The variable that carries a whole configuration document. */
    static final String WHOLE = "PATRONI_CONFIGURATION";

    /** Variable → where it goes in the YAML document. */
    private static final Map<String, List<String>> PATHS = new TreeMap<>();

    static {
        path("PATRONI_NAME", "name");
        path("PATRONI_NAMESPACE", "namespace");
        path("PATRONI_SCOPE", "scope");
        path("PATRONI_LOG_LEVEL", "log", "level");
        path("PATRONI_RESTAPI_LISTEN", "restapi", "listen");
        path("PATRONI_RESTAPI_CONNECT_ADDRESS", "restapi", "connect_address");
        path("PATRONI_RESTAPI_USERNAME", "restapi", "authentication", "username");
        path("PATRONI_RESTAPI_PASSWORD", "restapi", "authentication", "password");
        for (String k : List.of("certfile", "keyfile", "keyfile_password", "cafile", "verify_client", "ciphers")) {
            path("PATRONI_RESTAPI_" + k.toUpperCase(java.util.Locale.ROOT), "restapi", k);
        }
        for (String k : List.of("certfile", "keyfile", "keyfile_password", "cacert", "insecure")) {
            path("PATRONI_CTL_" + k.toUpperCase(java.util.Locale.ROOT), "ctl", k);
        }
        path("PATRONI_CTL_USERNAME", "ctl", "authentication", "username");
        path("PATRONI_CTL_PASSWORD", "ctl", "authentication", "password");
        path("PATRONI_POSTGRESQL_LISTEN", "postgresql", "listen");
        path("PATRONI_POSTGRESQL_CONNECT_ADDRESS", "postgresql", "connect_address");
        path("PATRONI_POSTGRESQL_DATA_DIR", "postgresql", "data_dir");
        path("PATRONI_POSTGRESQL_BIN_DIR", "postgresql", "bin_dir");
        path("PATRONI_POSTGRESQL_CONFIG_DIR", "postgresql", "config_dir");
        path("PATRONI_POSTGRESQL_PGPASS", "postgresql", "pgpass");
        for (String user : List.of("SUPERUSER", "REPLICATION", "REWIND")) {
            String section = user.toLowerCase(java.util.Locale.ROOT);
            path("PATRONI_" + user + "_USERNAME", "postgresql", "authentication", section, "username");
            path("PATRONI_" + user + "_PASSWORD", "postgresql", "authentication", section, "password");
        }
        path("PATRONI_ZOOKEEPER_HOSTS", "zookeeper", "hosts");
        for (String etcd : List.of("ETCD", "ETCD3")) {
            String section = etcd.toLowerCase(java.util.Locale.ROOT);
            path("PATRONI_" + etcd + "_HOSTS", section, "hosts");
            path("PATRONI_" + etcd + "_HOST", section, "host");
            path("PATRONI_" + etcd + "_URL", section, "url");
            path("PATRONI_" + etcd + "_USERNAME", section, "username");
            path("PATRONI_" + etcd + "_PASSWORD", section, "password");
        }
        path("PATRONI_CONSUL_HOST", "consul", "host");
        path("PATRONI_CONSUL_URL", "consul", "url");
        path("PATRONI_CONSUL_TOKEN", "consul", "token");
    }

    private static void path(String variable, String... keys) {
        PATHS.put(variable, List.of(keys));
    }

    private PatroniEnvironment() {}

    /** True when {@code env} carries a whole configuration ({@value #WHOLE}), so no file is needed. */
    static boolean hasWholeConfiguration(Map<String, String> env) {
        String whole = env.get(WHOLE);
        return whole != null && !whole.isBlank();
    }

    /**
     * {@code doc} with every known variable of {@code env} applied (a new document; {@code doc} is not changed). With
     * {@value #WHOLE} set, the caller parses that instead and this is not called.
     */
    static Map<String, Object> apply(Map<String, Object> doc, Map<String, String> env) {
        Map<String, Object> out = deepCopy(doc);
        for (Map.Entry<String, List<String>> p : PATHS.entrySet()) {
            String value = env.get(p.getKey());
            if (value == null) {
                continue;
            }
            Map<String, Object> at = out;
            List<String> keys = p.getValue();
            for (int i = 0; i < keys.size() - 1; i++) {
                Object child = at.get(keys.get(i));
                if (!(child instanceof Map)) {
                    if (child != null) {
                        throw new IllegalArgumentException(p.getKey() + " sets " + String.join(".", keys)
                                + ", but '" + String.join(".", keys.subList(0, i + 1)) + "' in the file is not a"
                                + " mapping");
                    }
                    child = new LinkedHashMap<String, Object>();
                    at.put(keys.get(i), child);
                }
                @SuppressWarnings("unchecked")
                Map<String, Object> next = (Map<String, Object>) child;
                at = next;
            }
            at.put(keys.get(keys.size() - 1), value);
        }
        return out;
    }

    /** The variables of {@code env} this agent maps, for the start-up log (values are not shown: passwords). */
    static List<String> applied(Map<String, String> env) {
        return PATHS.keySet().stream().filter(env::containsKey).toList();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> deepCopy(Map<String, Object> m) {
        Map<String, Object> out = new LinkedHashMap<>();
        m.forEach((k, v) -> out.put(k, v instanceof Map<?, ?> child ? deepCopy((Map<String, Object>) child) : v));
        return out;
    }
}
