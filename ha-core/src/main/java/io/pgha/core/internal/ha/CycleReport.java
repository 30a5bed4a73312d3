package io.pgha.core.internal.ha;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.PgState;

/**
 * What one HA cycle saw, decided and did.
 *
 * @param view     the view it decided on (null: DCS unreachable)
 * @param pg       PostgreSQL as probed
 * @param decision the decision
 * @param outcome  how carrying it out went
 * @param detail   the failure or lost race, when {@code outcome} is not {@code DONE}
 */
public record CycleReport(ClusterView view, PgState pg, Decision decision, Outcome outcome, String detail) {

    public enum Outcome {
        /** Every step ran (a long step was started). */
        DONE,
        /** A compare-and-set or compare-and-create lost its race; later steps were skipped. */
        LOST_RACE,
        /** A step failed (DCS unreachable, PostgreSQL error); later steps were skipped. */
        FAILED
    }
}
