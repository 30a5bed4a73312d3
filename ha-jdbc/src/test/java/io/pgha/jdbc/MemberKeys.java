package io.pgha.jdbc;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.Role;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.time.SystemHaClock;
import java.time.Duration;
import java.util.Map;

/**
 * The test plays a member's HA agent by hand: it writes that member's key and takes or gives up the leader key in a
 * real store, through the real adapter, with the member's own lease. Nothing is faked; only the decisions are the
 * test's.
 */
final class MemberKeys implements AutoCloseable {

    private final Dcs dcs;
    private final String name;

    MemberKeys(DcsFactory store, String scope, String name) {
        this.name = name;
        this.dcs = store.open(new DcsContext(new KeyLayout(KeyLayout.DEFAULT_NAMESPACE, scope), name,
                Duration.ofSeconds(30), Duration.ofSeconds(5), SystemHaClock.INSTANCE));
    }

    /** Publishes the member key: running, with {@code role}, at {@code connUrl}, its WAL at {@code position}. */
    void publish(Role role, String connUrl, long position) throws Exception {
        publish(role, connUrl, position, Map.of());
    }

    void publish(Role role, String connUrl, long position, Map<String, Object> extra) throws Exception {
        dcs.touchMember(new Member(name, connUrl, null, "running", role, Lsn.of(position), null, null,
                role == Role.REPLICA ? "streaming" : null, 1, null, false, false, extra, 0));
    }

    boolean lead() throws Exception {
        return dcs.acquireLeader();
    }

    boolean release() throws Exception {
        return dcs.releaseLeader();
    }

    Dcs dcs() {
        return dcs;
    }

    @Override
    public void close() {
        dcs.close();
    }
}
