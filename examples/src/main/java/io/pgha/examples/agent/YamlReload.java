package io.pgha.examples.agent;

import io.pgha.core.config.ConfigSection;
import io.pgha.core.config.ReloadableSettings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's reload ({@code POST /reload}, {@code patronictl reload}, SIGHUP), as Patroni's: the YAML file is read
 * again (with the {@code PATRONI_*} variables over it) and the member takes what may change while it runs
 * ({@link ReloadableSettings}: tags, its own {@code postgresql.parameters}, {@code pg_hba}, {@code pg_ident}, the REST
 * API's {@code restapi.listen}, {@code connect_address} and {@code authentication}), and the agent its
 * {@code postgresql.callbacks}. A changed setting of any other kind is named in one warning: it takes effect
 * when the agent restarts. A file that cannot be read, or holds a bad value, fails the reload with the reason, and the
 * member keeps what it has: everything is read and checked before anything is taken. Called on the HA loop's thread.
 */
final class YamlReload implements Supplier<ReloadableSettings> {

    private static final Logger LOG = LoggerFactory.getLogger(YamlReload.class);
    /** The keys whose changes a reload takes; every other changed key waits for a restart. */
    private static final List<String> TAKEN = List.of("tags", "postgresql.parameters", "postgresql.pg_hba",
            "postgresql.pg_ident", "postgresql.callbacks");
    /** Also taken when the agent runs a REST API (one that started without cannot get one by a reload). */
    private static final List<String> TAKEN_WITH_REST = List.of("restapi.listen", "restapi.connect_address",
            "restapi.authentication", "restapi.allow_unauthenticated");

    private final Path file;
    private final Map<String, String> env;
    private final CallbackScripts callbacks;
    /** The document the running member was built from, or last reloaded. */
    private Map<String, Object> running;

    YamlReload(Path file, Map<String, String> env, Map<String, Object> loaded, CallbackScripts callbacks) {
        this.file = Objects.requireNonNull(file, "file");
        this.env = Map.copyOf(env);
        this.running = loaded;
        this.callbacks = Objects.requireNonNull(callbacks, "callbacks");
    }

    @Override
    public synchronized ReloadableSettings get() {
        Map<String, Object> doc = AgentConfig.read(file, env);
        ReloadableSettings taken = AgentConfig.reloadable(doc);
        Map<CallbackScripts.Event, List<String>> scripts = AgentConfig.callbackCommands(
                new ConfigSection("", doc).section("postgresql").section("callbacks"));
        if (!scripts.equals(callbacks.commands())) {
            // Before this reload's own on_reload fires (after PostgreSQL reloaded): that one already runs the new
            // script, as in Patroni, whose reload takes the new callbacks before it calls on_reload.
            callbacks.useCommands(scripts);
            LOG.info("{}: callbacks now {}", file, scripts.isEmpty() ? "none" : scripts);
        }
        List<String> waiting = changedKeys(running, doc);
        if (!waiting.isEmpty()) {
            LOG.warn("{}: changed since the agent started: {}; a reload does not take these, they take effect when the"
                    + " agent restarts", file, String.join(", ", waiting));
        }
        running = doc;
        return taken;
    }

    /** The keys (dotted paths) whose values differ between the two documents, outside the ones a reload takes. */
    static List<String> changedKeys(Map<String, Object> before, Map<String, Object> after) {
        List<String> out = new ArrayList<>();
        diff("", before, after, out);
        List<String> taken = new ArrayList<>(TAKEN);
        if (before.containsKey("restapi") && after.containsKey("restapi")) {
            taken.addAll(TAKEN_WITH_REST);
        }
        out.removeIf(k -> taken.stream().anyMatch(t -> k.equals(t) || k.startsWith(t + ".")));
        return out;
    }

    private static void diff(String path, Object a, Object b, List<String> out) {
        if (a instanceof Map<?, ?> ma && b instanceof Map<?, ?> mb) {
            Map<String, Object> left = strings(ma);
            Map<String, Object> right = strings(mb);
            TreeSet<String> keys = new TreeSet<>(left.keySet());
            keys.addAll(right.keySet());
            for (String k : keys) {
                diff(path.isEmpty() ? k : path + "." + k, left.get(k), right.get(k), out);
            }
        } else if (!Objects.equals(a, b)) {
            out.add(path);
        }
    }

    private static Map<String, Object> strings(Map<?, ?> m) {
        Map<String, Object> out = new LinkedHashMap<>();
        m.forEach((k, v) -> out.put(String.valueOf(k), v));
        return out;
    }
}
