package io.pgha.core.postgres;

import io.pgha.core.cluster.Lsn;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What {@code pg_controldata} says about a data directory: the state it was left in and its positions. It is the
 * source of truth for a stopped server.
 *
 * @param state               {@code Database cluster state}, e.g. {@code shut down}, {@code in production}
 * @param systemId            {@code Database system identifier}
 * @param checkpoint          {@code Latest checkpoint location}
 * @param checkpointTimeline  {@code Latest checkpoint's TimeLineID}
 * @param minRecovery         {@code Minimum recovery ending location} (0/0 unless it was a standby)
 * @param minRecoveryTimeline {@code Min recovery ending loc's timeline} (0 unless it was a standby)
 * @param dataChecksums       data checksums are on
 * @param walLogHints         {@code wal_log_hints} was on at the last checkpoint
 * @param walSegmentBytes     {@code Bytes per WAL segment} (set at initdb; 16 MiB by default)
 */
record ControlData(String state, String systemId, Lsn checkpoint, int checkpointTimeline, Lsn minRecovery,
        int minRecoveryTimeline, boolean dataChecksums, boolean walLogHints, long walSegmentBytes) {

    /**
     * The name of the WAL segment file that holds {@code lsn} on {@code timeline}, e.g.
     * {@code 000000010000000000000003}: 8 hex digits of timeline, then the segment number split at 4 GiB.
     */
    String walSegmentFile(int timeline, Lsn lsn) {
        if (walSegmentBytes <= 0 || Long.bitCount(walSegmentBytes) != 1) {
            throw new IllegalStateException("pg_controldata gave no usable 'Bytes per WAL segment' (" + walSegmentBytes
                    + ")");
        }
        long segment = Long.divideUnsigned(lsn.value(), walSegmentBytes);
        long perXLogId = 0x1_0000_0000L / walSegmentBytes;
        return String.format("%08X%08X%08X", timeline, segment / perXLogId, segment % perXLogId);
    }

    /** A standby left it: in recovery, shut down in recovery. */
    boolean inRecovery() {
        return state.equals("in archive recovery") || state.equals("shut down in recovery");
    }

    /** Shut down cleanly (as a primary or as a standby). */
    boolean cleanlyShutDown() {
        return state.equals("shut down") || state.equals("shut down in recovery");
    }

    /** The timeline it last worked on. */
    int timeline() {
        return Math.max(checkpointTimeline, minRecoveryTimeline);
    }

    static ControlData parse(String output) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : output.split("\n")) {
            int colon = line.indexOf(':');
            if (colon > 0) {
                m.put(line.substring(0, colon).trim(), line.substring(colon + 1).trim());
            }
        }
        String state = m.get("Database cluster state");
        if (state == null) {
            throw new IllegalArgumentException("pg_controldata printed no 'Database cluster state': " + output);
        }
        return new ControlData(state, m.get("Database system identifier"), lsn(m.get("Latest checkpoint location")),
                integer(m.get("Latest checkpoint's TimeLineID")), lsn(m.get("Minimum recovery ending location")),
                integer(m.get("Min recovery ending loc's timeline")),
                !"0".equals(m.getOrDefault("Data page checksum version", "0")),
                "on".equals(m.get("wal_log_hints setting")),
                m.containsKey("Bytes per WAL segment") ? Long.parseLong(m.get("Bytes per WAL segment")) : 0);
    }

    private static Lsn lsn(String s) {
        return s == null ? null : Lsn.parse(s);
    }

    private static int integer(String s) {
        return s == null ? 0 : Integer.parseInt(s);
    }
}
