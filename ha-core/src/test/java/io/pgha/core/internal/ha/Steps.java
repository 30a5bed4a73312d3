package io.pgha.core.internal.ha;

import java.util.List;

/** Reads a decision's steps as short names, for readable table assertions. */
final class Steps {
    private Steps() {}

    static List<String> of(Decision d) {
        return d.actions().stream().map(a -> a.getClass().getSimpleName()).toList();
    }

    @SuppressWarnings("unchecked")
    static <T extends Action> T find(Decision d, Class<T> type) {
        return (T) d.actions().stream().filter(type::isInstance).findFirst()
                .orElseThrow(() -> new AssertionError("no " + type.getSimpleName() + " in " + d.actions()));
    }
}
