package io.pgha.core.internal.ha;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * What one HA cycle decided: the steps to take, in order, and one sentence saying why.
 *
 * @param actions   steps, see {@link Action} for the ordering rules
 * @param reason    the cycle's INFO log line (without the {@code scope/member - } prefix)
 * @param nextCycle run the next cycle after this instead of {@code loopWait}; null for the normal schedule
 */
public record Decision(List<Action> actions, String reason, Duration nextCycle) {

    public Decision {
        actions = List.copyOf(actions);
        Objects.requireNonNull(reason, "reason");
        long longOnes = actions.stream().filter(Action::isLong).count();
        if (longOnes > 1 || (longOnes == 1 && !actions.get(actions.size() - 1).isLong())) {
            throw new IllegalArgumentException("a long action must be the only one and the last: " + actions);
        }
    }

    public static Decision of(String reason, Action... actions) {
        return new Decision(List.of(actions), reason, null);
    }

    public static Decision of(String reason, List<Action> actions) {
        return new Decision(actions, reason, null);
    }

    /** The same decision, asking for the next cycle soon (after a step that changes what the next cycle sees). */
    public Decision soon() {
        return new Decision(actions, reason, Duration.ofMillis(100));
    }

    public Decision after(Duration d) {
        return new Decision(actions, reason, d);
    }
}
