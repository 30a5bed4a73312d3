package io.pgha.core.spi;

/**
 * Whether this node's WAL history is a prefix of the leader's (rule S4: never stream from a diverged history).
 *
 * @param result     what the check found
 * @param detail     a sentence for the log, e.g. which timeline forked where
 * @param rewindable for {@link Result#DIVERGED}: pg_rewind can bring this node onto the leader's history. Not when
 *                   both are on the same timeline number with different histories: pg_rewind then answers "no rewind
 *                   required" and leaves the fork in place; only a re-clone helps
 */
public record DivergenceCheck(Result result, String detail, boolean rewindable) {

    public DivergenceCheck(Result result, String detail) {
        this(result, detail, true);
    }

    public enum Result {
        /** Safe to follow as is. */
        NONE,
        /** This node has WAL the leader does not: it must be rewound (or re-cloned) before it may follow. */
        DIVERGED,
        /** Could not tell (leader unreachable, no local state): do not start streaming. */
        UNKNOWN
    }

    public static DivergenceCheck none(String detail) {
        return new DivergenceCheck(Result.NONE, detail);
    }

    public static DivergenceCheck diverged(String detail) {
        return new DivergenceCheck(Result.DIVERGED, detail);
    }

    /** Diverged on the same timeline number (two promotions took it): pg_rewind cannot help, a re-clone can. */
    public static DivergenceCheck forkedOnSameTimeline(String detail) {
        return new DivergenceCheck(Result.DIVERGED, detail, false);
    }

    public static DivergenceCheck unknown(String detail) {
        return new DivergenceCheck(Result.UNKNOWN, detail);
    }
}
