package io.pgha.jdbc;

/** Which members a {@link HaDataSource} hands out connections to. */
public enum TargetRole {
    /** The leader only (the member holding the leader key), verified writable. */
    PRIMARY,
    /** A running replica within {@code maxLag}; the leader when none qualifies. */
    REPLICA,
    /** Any running member within {@code maxLag}, the leader included. */
    ANY
}
