package io.pgha.core.internal.ha;

import java.util.List;

/**
 * The primary's {@code POST /failsafe} round to every member during a DCS outage.
 *
 * @param sentAtNanos monotonic time just before the requests were sent: the new lease deadline counts from it
 * @param asked       members asked
 * @param refused     members that did not confirm (unreachable, or running as primary themselves)
 */
public record FailsafeRound(long sentAtNanos, List<String> asked, List<String> refused) {

    public FailsafeRound {
        asked = List.copyOf(asked);
        refused = List.copyOf(refused);
    }

    public boolean allConfirmed() {
        return refused.isEmpty();
    }
}
