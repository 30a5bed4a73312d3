package io.pgha.core.internal.ha;

import io.pgha.core.cluster.Role;
import io.pgha.core.config.Durations;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An operator's request for this member's PostgreSQL (Patroni's {@code POST /restart}, {@code /reinitialize},
 * {@code /reload}). The admin hands it to the HA loop, which decides when and whether to carry it out (as a long
 * action, so a leader keeps renewing its lock meanwhile) and records the outcome under {@link #id()}.
 */
public sealed interface MemberRequest {

    /** Patroni's {@code isoformat()} of an aware time: seconds always, the zone as {@code +00:00}. */
    DateTimeFormatter PATRONI_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ssxxx");

    /** Tells requests apart, so that the admin waiting for one reads its own outcome. */
    long id();

    /**
     * Restart PostgreSQL in the role it runs in, if every condition holds when it is carried out.
     *
     * @param schedule       not before this instant; null = now
     * @param role           only if this member runs as this ({@link Role#PRIMARY} or {@link Role#REPLICA}); null = any
     * @param belowVersion   only if the running server's {@code server_version_num} is lower; 0 = any
     * @param versionText    {@code belowVersion} as the operator wrote it (for {@code scheduled_restart})
     * @param pendingOnly    only if PostgreSQL reports a setting waiting for a restart ({@code pending_restart})
     * @param timeout        a leader whose PostgreSQL is not up again within this gives up the lock, as after a crash
     *                       (Patroni's {@code timeout}); null = primaryStartTimeout
     */
    record Restart(long id, Instant schedule, Role role, int belowVersion, String versionText, boolean pendingOnly,
            Duration timeout) implements MemberRequest {

        /** With no timeout of its own (primaryStartTimeout applies). */
        public Restart(long id, Instant schedule, Role role, int belowVersion, String versionText,
                boolean pendingOnly) {
            this(id, schedule, role, belowVersion, versionText, pendingOnly, null);
        }

        /** Patroni's {@code scheduled_restart} member field: the schedule and the conditions as given. */
        public Map<String, Object> patroniJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            if (schedule != null) {
                m.put("schedule", PATRONI_TIME.format(schedule.atOffset(ZoneOffset.UTC)));
            }
            if (role != null) {
                m.put("role", role.json());
            }
            if (versionText != null) {
                m.put("postgres_version", versionText);
            }
            if (pendingOnly) {
                m.put("restart_pending", true);
            }
            if (timeout != null) {
                m.put("timeout", Durations.toSeconds(timeout));
            }
            return m;
        }
    }

    /**
     * Wipe the data directory and clone it again from the leader (a replica only).
     *
     * @param force cut short the long action running on this replica (a restart, start, rewind or clone) instead of
     *              waiting for it to end (Patroni's {@code force}); a bootstrap or a primary's start is still waited for
     */
    record Reinitialize(long id, boolean force) implements MemberRequest {

        /** Not forced: it waits for a long action in flight. */
        public Reinitialize(long id) {
            this(id, false);
        }
    }

    /** Make PostgreSQL re-read its configuration (SIGHUP). */
    record Reload(long id) implements MemberRequest {}

    /** How a request ended: {@code ok}, and Patroni's sentence for it. */
    record Outcome(long id, boolean ok, String message) {}
}
