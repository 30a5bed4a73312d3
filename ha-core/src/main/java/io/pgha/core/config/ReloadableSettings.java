package io.pgha.core.config;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The part of a member's own settings that a reload takes while it runs (Patroni re-reads its YAML on a reload):
 * its tags, its PostgreSQL's own parameters, {@code pg_hba} and {@code pg_ident}, and its REST API's address,
 * published host and credentials. Everything else (the store, PostgreSQL's addresses, timings of the member's own,
 * directories) takes effect when the member starts again.
 *
 * @param tags       the member's tags ({@code nofailover}, {@code failover_priority}, ... and custom ones)
 * @param parameters its own server parameters, over the cluster's (as {@link PostgresSettings#parameters()})
 * @param pgHba      its own {@code pg_hba.conf} lines; empty means the cluster's, else pgha's default
 * @param pgIdent    its own {@code pg_ident.conf} lines; empty means the cluster's, else none
 * @param rest       its REST API's address, published host and credentials; null keeps what runs (a member without
 *                   a REST API ignores it)
 */
public record ReloadableSettings(Tags tags, Map<String, String> parameters, List<String> pgHba,
        List<String> pgIdent, RestEndpoint rest) {

    public ReloadableSettings {
        Objects.requireNonNull(tags, "tags");
        parameters = Map.copyOf(Objects.requireNonNull(parameters, "parameters"));
        pgHba = List.copyOf(Objects.requireNonNull(pgHba, "pgHba"));
        pgIdent = List.copyOf(Objects.requireNonNull(pgIdent, "pgIdent"));
    }

    /** Settings that leave the REST API as it runs. */
    public ReloadableSettings(Tags tags, Map<String, String> parameters, List<String> pgHba, List<String> pgIdent) {
        this(tags, parameters, pgHba, pgIdent, null);
    }

    /** What a member built with these settings runs with. */
    public static ReloadableSettings of(HaSettings member, PostgresSettings postgres) {
        return postgres == null ? new ReloadableSettings(member.tags(), Map.of(), List.of(), List.of())
                : new ReloadableSettings(member.tags(), postgres.parameters(), postgres.pgHba(), postgres.pgIdent());
    }
}
