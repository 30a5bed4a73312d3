package io.pgha.core.spi;

import io.pgha.core.config.ConfigSection;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeSet;

/** Finds the DCS module a configuration names, or explains which ones are available. */
public final class DcsProviders {

    /** Section names of the stores pgha knows, and the module that provides each. */
    private static final Map<String, String> KNOWN = Map.of("zookeeper", "io.pgha:ha-dcs-zookeeper",
            "etcd3", "io.pgha:ha-dcs-etcd", "etcd", "io.pgha:ha-dcs-etcd", "consul", "io.pgha:ha-dcs-consul");

    private DcsProviders() {}

    /** The providers on the class path. */
    public static List<DcsProvider> available() {
        List<DcsProvider> out = new ArrayList<>();
        ServiceLoader.load(DcsProvider.class, DcsProviders.class.getClassLoader()).forEach(out::add);
        return out;
    }

    /** Whether {@code name} is a store section name (present or not on the class path). */
    public static boolean isStoreSection(String name) {
        return KNOWN.containsKey(name) || available().stream().anyMatch(p -> p.names().contains(name));
    }

    /**
     * The factory for the store section {@code name}.
     *
     * @throws IllegalArgumentException when no module for it is on the class path: the message lists the available
     *                                  ones and the artifact to add
     */
    public static DcsFactory fromConfig(String name, ConfigSection section) {
        List<DcsProvider> all = available();
        for (DcsProvider p : all) {
            if (p.names().contains(name)) {
                return p.fromConfig(section);
            }
        }
        TreeSet<String> names = new TreeSet<>();
        all.forEach(p -> names.addAll(p.names()));
        String artifact = KNOWN.get(name);
        throw new IllegalArgumentException("no DCS module for '" + name + "' on the class path (available: "
                + (names.isEmpty() ? "none" : String.join(", ", names)) + ")"
                + (artifact == null ? "" : "; add " + artifact));
    }
}
