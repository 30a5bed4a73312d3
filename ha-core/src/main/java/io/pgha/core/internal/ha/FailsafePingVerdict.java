package io.pgha.core.internal.ha;

import java.util.Objects;

/**
 * What a member makes of a {@code POST /failsafe}, apart from "I run as primary myself" (which the REST API answers
 * from the member's status).
 *
 * @param refusal why the ping does not count; null when it was accepted
 */
public record FailsafePingVerdict(String refusal) {

    public static final FailsafePingVerdict ACCEPTED = new FailsafePingVerdict(null);

    public static FailsafePingVerdict refused(String why) {
        return new FailsafePingVerdict(Objects.requireNonNull(why, "why"));
    }

    public boolean accepted() {
        return refusal == null;
    }
}
