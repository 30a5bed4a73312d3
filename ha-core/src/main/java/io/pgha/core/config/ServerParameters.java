package io.pgha.core.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The server parameters one member runs with, from three sources, as Patroni ranks them: pgha's defaults, then the
 * cluster-wide ones (the DCS {@code config} key's {@code postgresql.parameters}), then the member's own
 * ({@link PostgresSettings#parameters()}) — except the {@link #MUST_MATCH} ones, which a replica needs at least as
 * high as its primary's: those come from the cluster config whenever it sets them, and a differing local value is
 * overridden with a warning. Parameters pgha writes itself are never taken from the cluster config.
 *
 * @param parameters the effective parameters, in the order they are written
 * @param warnings   what was overridden or refused, one message each (empty when nothing was)
 */
public record ServerParameters(Map<String, String> parameters, List<String> warnings) {

    /** Replay stops on a standby whose value is lower than the primary's; they must be the same on every member. */
    public static final Set<String> MUST_MATCH = Set.of("max_connections", "max_worker_processes", "max_wal_senders",
            "max_prepared_transactions", "max_locks_per_transaction", "track_commit_timestamp", "wal_level");

    private static final Pattern NAME = Pattern.compile("[a-z_][a-z0-9_.]*");

    public ServerParameters {
        parameters = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
        warnings = List.copyOf(warnings);
    }

    /** The effective parameters of {@code local} with the cluster-wide {@code cluster} ones applied. */
    public static ServerParameters of(PostgresSettings local, Map<String, String> cluster) {
        Map<String, String> out = new LinkedHashMap<>(PostgresSettings.DEFAULT_PARAMETERS);
        List<String> warnings = new ArrayList<>();
        Map<String, String> fromCluster = new LinkedHashMap<>();
        cluster.forEach((rawName, value) -> {
            String name = rawName.toLowerCase(java.util.Locale.ROOT);
            if (PostgresSettings.MANAGED_PARAMETERS.contains(name)) {
                warnings.add("postgresql.parameters." + rawName + " in the cluster config is ignored: pgha sets it"
                        + " on each member");
            } else if (!NAME.matcher(name).matches()) {
                warnings.add("postgresql.parameters." + rawName + " in the cluster config is ignored: not a"
                        + " parameter name");
            } else if (value.indexOf('\n') >= 0 || value.indexOf('\r') >= 0 || value.indexOf('\0') >= 0) {
                warnings.add("postgresql.parameters." + rawName + " in the cluster config is ignored: its value has"
                        + " a line break or NUL");
            } else {
                fromCluster.put(name, value);
            }
        });
        out.putAll(fromCluster);
        local.parameters().forEach((name, value) -> {
            String clusterValue = fromCluster.get(name);
            if (MUST_MATCH.contains(name) && clusterValue != null) {
                if (!clusterValue.equals(value)) {
                    warnings.add("postgresql.parameters." + name + " = " + value + " of this member is overridden"
                            + " by the cluster config's " + clusterValue + " (it must be the same on every member)");
                }
            } else {
                out.put(name, value);
            }
        });
        return new ServerParameters(out, warnings);
    }
}
