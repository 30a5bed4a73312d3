package io.pgha.core.internal.admin;

import java.util.Map;
import java.util.Objects;

/**
 * How an operator's request ({@link ClusterAdmin}) ended. The REST API turns it into Patroni's status codes,
 * {@code HaCluster} into a return value or an exception; neither decides anything itself.
 */
public sealed interface AdminResult {

    /** A sentence for the operator (patronictl prints it as it comes). */
    String message();

    /** Carried out. {@code document}: the resulting config for a config change, else null. */
    record Done(String message, Map<String, Object> document) implements AdminResult {
        public Done {
            Objects.requireNonNull(message, "message");
        }

        public Done(String message) {
            this(message, null);
        }
    }

    /** Recorded, to be carried out later (a scheduled switchover). */
    record Accepted(String message) implements AdminResult {}

    /** Not done, and it would not be if asked again unchanged. */
    record Refused(Why why, String message) implements AdminResult {}

    /** Someone changed the same key in between: read again and retry. */
    record Conflict(String message) implements AdminResult {}

    /** The DCS could not be read or written, or the outcome could not be learnt in time. */
    record Unavailable(String message) implements AdminResult {}

    /** Why a request was refused (Patroni answers each with its own status code). */
    enum Why {
        /** The request itself is wrong: a missing name, a schedule for a failover, an invalid config (400). */
        INVALID,
        /** The cluster does not allow it now: wrong leader name, no candidate that could take over (412). */
        NOT_POSSIBLE,
        /** A value that cannot be used: a switchover scheduled in the past (422). */
        UNUSABLE,
        /** Nothing to act on: no switchover is scheduled (404). */
        NOTHING_TO_DO,
        /**
         * This member cannot do it now: a restart's conditions do not hold, the leader cannot reinitialize, another
         * long action runs (503).
         */
        NOT_NOW
    }

    default boolean succeeded() {
        return this instanceof Done || this instanceof Accepted;
    }
}
