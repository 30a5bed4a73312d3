package io.pgha.core.postgres;

import io.pgha.core.config.PostgresSettings;
import io.pgha.core.config.ServerParameters;
import io.pgha.core.spi.PostgresException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the node's configuration files are made of besides this member's settings at start: the cluster's
 * parameters, pg_hba and pg_ident (the config key, handed over by the HA loop) and the member's own ones as a reload
 * re-read them. Each change is taken into the {@link DataDirectory}'s next write and, when the server runs, reloaded;
 * a reload that fails is not taken, so the same call tries again. Guarded by its {@link LocalPostgres}.
 */
final class NodeConfiguration {

    private static final Logger LOG = LoggerFactory.getLogger(LocalPostgres.class);

    /** The running server, as the configuration needs it. */
    interface Server {
        boolean running();

        /** Rewrites the node's files and makes the server re-read them. */
        void reload() throws PostgresException;
    }

    private record AuthFiles(List<String> hba, List<String> ident) {}

    private final PostgresSettings settings;
    private final DataDirectory dataDir;
    private final LocalSql sql;
    private final Server server;
    private final String prefix;
    private Map<String, String> clusterParameters = Map.of();
    /** The cluster's pg_hba and pg_ident lines last taken. */
    private AuthFiles clusterAuthFiles = new AuthFiles(List.of(), List.of());
    private List<String> parameterWarnings = List.of();

    NodeConfiguration(PostgresSettings settings, DataDirectory dataDir, LocalSql sql, Server server, String prefix) {
        this.settings = settings;
        this.dataDir = dataDir;
        this.sql = sql;
        this.server = server;
        this.prefix = prefix;
    }

    /**
     * Takes the cluster-wide parameters into this node's config file, and when the effective parameters changed and
     * the server runs, reloads it (a parameter that needs a restart is then pending_restart in pg_settings, which the
     * probe reports). Each change is logged in one line; overridden or refused cluster parameters once per change.
     */
    boolean useClusterParameters(Map<String, String> parameters) throws PostgresException {
        Map<String, String> previous = clusterParameters;
        ServerParameters before = dataDir.serverParameters();
        dataDir.clusterParameters(parameters);
        ServerParameters after = dataDir.serverParameters();
        if (!after.warnings().equals(parameterWarnings)) {
            for (String w : after.warnings()) {
                if (!parameterWarnings.contains(w)) {
                    LOG.warn("{}{}", prefix, w);
                }
            }
            parameterWarnings = after.warnings();
        }
        clusterParameters = Map.copyOf(parameters);
        if (after.parameters().equals(before.parameters())) {
            return false;
        }
        boolean running = server.running();
        LOG.info("{}server parameters changed{}: {}", prefix, running ? ", reloading" : " (used at the next start)",
                changes(before.parameters(), after.parameters()));
        if (running) {
            try {
                server.reload();
            } catch (PostgresException e) {
                // Not taken: the next call with the same parameters tries again.
                dataDir.clusterParameters(previous);
                clusterParameters = previous;
                throw e;
            }
        }
        return running;
    }

    /**
     * Takes the cluster-wide pg_hba and pg_ident lines (used where this member has none of its own) and, when a file
     * this node gets changed and the server runs, rewrites it and reloads. PostgreSQL keeps its previous rules when
     * the new pg_hba.conf has a bad line: that is logged as a warning naming the lines.
     */
    boolean useClusterAuthFiles(List<String> pgHba, List<String> pgIdent)
            throws PostgresException {
        List<String> hbaBefore = dataDir.hbaLines();
        List<String> identBefore = dataDir.identLines();
        AuthFiles previous = clusterAuthFiles;
        dataDir.clusterAuthFiles(pgHba, pgIdent);
        clusterAuthFiles = new AuthFiles(List.copyOf(pgHba), List.copyOf(pgIdent));
        boolean hbaChanged = !dataDir.hbaLines().equals(hbaBefore);
        boolean identChanged = !dataDir.identLines().equals(identBefore);
        if (!hbaChanged && !identChanged) {
            return false;
        }
        boolean running = server.running();
        String which = hbaChanged && identChanged ? "pg_hba.conf and pg_ident.conf"
                : hbaChanged ? "pg_hba.conf" : "pg_ident.conf";
        LOG.info("{}{} changed by the cluster's config{}", prefix, which,
                running ? ", reloading" : " (used at the next start)");
        if (running) {
            try {
                server.reload();
            } catch (PostgresException e) {
                // Not taken: the next call with the same lines tries again.
                dataDir.clusterAuthFiles(previous.hba(), previous.ident());
                clusterAuthFiles = previous;
                throw e;
            }
            if (hbaChanged) {
                warnIfHbaRefused();
            }
        }
        return running;
    }

    /** A check only: the reload is done whatever it finds (the new rules may even lock this check out). */
    private void warnIfHbaRefused() {
        try {
            List<String> errors = sql.hbaFileErrors();
            if (!errors.isEmpty()) {
                LOG.warn("{}PostgreSQL refused the new pg_hba.conf and keeps its previous rules: {}", prefix,
                        String.join("; ", errors));
            }
        } catch (PostgresException e) {
            LOG.warn("{}cannot check the new pg_hba.conf (pg_hba_file_rules): {}", prefix, e.getMessage());
        }
    }

    /**
     * Takes the member's own parameters, pg_hba and pg_ident as a reload re-read them; the reload that
     * follows (or the next start) writes them. Checked as the settings' builder checks them.
     */
    void useMemberSettings(Map<String, String> parameters, List<String> pgHba,
            List<String> pgIdent) {
        PostgresSettings next;
        try {
            next = settings.toBuilder().parameters(parameters).pgHba(pgHba).pgIdent(pgIdent).build();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("postgresql: " + e.getMessage().replaceFirst("^PostgresSettings: ", ""),
                    e);
        }
        dataDir.useSettings(next);
    }

    private static String changes(Map<String, String> before, Map<String, String> after) {
        List<String> out = new ArrayList<>();
        Set<String> names = new LinkedHashSet<>(before.keySet());
        names.addAll(after.keySet());
        for (String n : names) {
            String a = before.get(n);
            String b = after.get(n);
            if (!Objects.equals(a, b)) {
                out.add(n + " " + (a == null ? "(default)" : a) + " -> " + (b == null ? "(default)" : b));
            }
        }
        return String.join(", ", out);
    }

}
