package io.pgha.core.spi;

/**
 * Whether this node's WAL history is a prefix of the leader's (rule S4: never stream from a diverged history).
 *
 * @param result what the check found
 * @param detail a sentence for the log, e.g. which timeline forked where
 */
public record DivergenceCheck(Result result, String detail) {

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

    public static DivergenceCheck unknown(String detail) {
        return new DivergenceCheck(Result.UNKNOWN, detail);
    }
}
