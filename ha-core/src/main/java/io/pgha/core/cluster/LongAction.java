package io.pgha.core.cluster;

/**
 * A long step a member runs while its HA cycles go on (initdb, a base backup, a start, pg_rewind, an operator's
 * restart): at most one at a time. Members publish it as their Patroni {@code state} while it runs.
 */
public enum LongAction {
    BOOTSTRAP("initializing new cluster"),
    CREATE_REPLICA("creating replica"),
    START_PRIMARY("starting"),
    START_REPLICA("starting"),
    REWIND("starting"),
    RECLONE("creating replica"),
    /** An operator's restart (Patroni's {@code POST /restart}): stop, then start in the same role. */
    RESTART("restarting");

    private final String patroniState;

    LongAction(String patroniState) {
        this.patroniState = patroniState;
    }

    /** The member {@code state} Patroni shows while this runs. */
    public String patroniState() {
        return patroniState;
    }

    /** For log lines: {@code start primary}, {@code re-clone}. */
    @Override
    public String toString() {
        return this == RECLONE ? "re-clone" : name().toLowerCase(java.util.Locale.ROOT).replace('_', ' ');
    }
}
