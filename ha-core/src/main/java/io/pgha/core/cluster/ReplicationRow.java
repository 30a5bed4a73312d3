package io.pgha.core.cluster;


/**
 * One row of {@code pg_stat_replication} on a primary.
 *
 * @param applicationName the standby's {@code application_name}: pgha sets it to the member name
 * @param state           {@code streaming}, {@code catchup}, {@code startup}, ...
 * @param syncState       {@code sync}, {@code potential}, {@code quorum} or {@code async}
 * @param flushLsn        last position the standby flushed; null when not reported
 */
public record ReplicationRow(String applicationName, String state, String syncState, Lsn flushLsn, Lsn replayLsn) {

    public boolean isStreaming() {
        return "streaming".equals(state);
    }

    /** PostgreSQL counts this standby towards synchronous commit right now. */
    public boolean isSynchronous() {
        return "sync".equals(syncState) || "quorum".equals(syncState);
    }
}
