package io.pgha.core.spi;

import io.pgha.core.cluster.ClusterStatus;
import io.pgha.core.cluster.DcsVersion;
import io.pgha.core.cluster.FailoverRequest;
import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.SyncState;
import io.pgha.core.cluster.TimelineHistory;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Objects;

/**
 * The {@link Dcs} keys that are plain values with versions, written the same way on every store: an adapter provides
 * two primitives on raw bytes ({@link #compareAndSet}, {@link #compareAndDelete}) and gets the typed methods, encoded
 * with {@link PatroniJson} exactly as Patroni writes them. The lease-bound keys (leader, member) stay the adapter's.
 */
public abstract class KeyValueDcs implements Dcs {

    /**
     * Writes {@code value} at {@code key} (relative to the cluster prefix) if its version is still {@code expected}:
     * {@link DcsVersion#ABSENT} means "only if absent", {@link Dcs#ANY_VERSION} "unconditionally".
     *
     * @param what a short description for error messages, e.g. "write the sync key"
     * @return false when the key's version differed
     */
    protected abstract boolean compareAndSet(String what, String key, byte[] value, long expected)
            throws DcsUnavailableException;

    /**
     * Deletes {@code key} if its version is still {@code expected} ({@link Dcs#ANY_VERSION}: whatever it is).
     *
     * @return false when the key was absent or its version differed
     */
    protected abstract boolean compareAndDelete(String what, String key, long expected) throws DcsUnavailableException;

    @Override
    public final boolean initialize(String value) throws DcsUnavailableException {
        Objects.requireNonNull(value, "value");
        return compareAndSet("race for the initialize key", KeyLayout.INITIALIZE,
                value.getBytes(StandardCharsets.UTF_8), DcsVersion.ABSENT);
    }

    @Override
    public final boolean setInitialize(String sysid, long expectedVersion) throws DcsUnavailableException {
        Objects.requireNonNull(sysid, "sysid");
        return compareAndSet("write the initialize key", KeyLayout.INITIALIZE, sysid.getBytes(StandardCharsets.UTF_8),
                expectedVersion);
    }

    @Override
    public final boolean deleteInitialize(long expectedVersion) throws DcsUnavailableException {
        return compareAndDelete("delete the initialize key", KeyLayout.INITIALIZE, expectedVersion);
    }

    @Override
    public final boolean writeConfig(GlobalConfig config, long expectedVersion) throws DcsUnavailableException {
        return compareAndSet("write the config key", KeyLayout.CONFIG, PatroniJson.encodeConfig(config),
                expectedVersion);
    }

    @Override
    public final boolean writeSync(SyncState state, long expectedVersion) throws DcsUnavailableException {
        return compareAndSet("write the sync key", KeyLayout.SYNC, PatroniJson.encodeSync(state), expectedVersion);
    }

    @Override
    public final boolean deleteSync(long expectedVersion) throws DcsUnavailableException {
        return compareAndDelete("delete the sync key", KeyLayout.SYNC, expectedVersion);
    }

    @Override
    public final boolean writeFailover(FailoverRequest request, long expectedVersion) throws DcsUnavailableException {
        return compareAndSet("write the failover key", KeyLayout.FAILOVER, PatroniJson.encodeFailover(request),
                expectedVersion);
    }

    @Override
    public final boolean clearFailover(long expectedVersion) throws DcsUnavailableException {
        return compareAndDelete("clear the failover key", KeyLayout.FAILOVER, expectedVersion);
    }

    @Override
    public final boolean writeStatus(ClusterStatus status, long expectedVersion) throws DcsUnavailableException {
        return compareAndSet("write the status key", KeyLayout.STATUS, PatroniJson.encodeStatus(status),
                expectedVersion);
    }

    @Override
    public final boolean writeHistory(TimelineHistory history, long expectedVersion) throws DcsUnavailableException {
        return compareAndSet("write the history key", KeyLayout.HISTORY, PatroniJson.encodeHistory(history),
                expectedVersion);
    }

    @Override
    public final void writeFailsafe(Map<String, String> members) throws DcsUnavailableException {
        Objects.requireNonNull(members, "members");
        if (members.isEmpty()) {
            compareAndDelete("delete the failsafe key", KeyLayout.FAILSAFE, ANY_VERSION);
        } else {
            compareAndSet("write the failsafe key", KeyLayout.FAILSAFE, PatroniJson.encodeFailsafe(members),
                    ANY_VERSION);
        }
    }
}
