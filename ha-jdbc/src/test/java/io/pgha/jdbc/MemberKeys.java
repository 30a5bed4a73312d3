package io.pgha.jdbc;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.Role;
import io.pgha.core.spi.DaemonThreadFactory;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.time.SystemHaClock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The test plays a member's HA agent by hand: it writes that member's key and takes or gives up the leader key in a
 * real store, through the real adapter, with the member's own lease. Nothing is faked; only the decisions are the
 * test's.
 */
final class MemberKeys implements AutoCloseable {

    private final Dcs dcs;
    private final String name;
    /** Like an HA loop, renews what it holds every few seconds: an idle member loses its lease after the ttl. */
    private final ScheduledExecutorService heartbeat =
            Executors.newSingleThreadScheduledExecutor(new DaemonThreadFactory("member-keys"));
    private volatile Member published;
    private volatile boolean leading;

    MemberKeys(DcsFactory store, String scope, String name) {
        this.name = name;
        this.dcs = store.open(new DcsContext(new KeyLayout(KeyLayout.DEFAULT_NAMESPACE, scope), name,
                Duration.ofSeconds(30), Duration.ofSeconds(5), SystemHaClock.INSTANCE));
        heartbeat.scheduleWithFixedDelay(this::renew, 3, 3, TimeUnit.SECONDS);
    }

    private void renew() {
        try {
            Member m = published;
            if (m != null) {
                dcs.touchMember(m);
            }
            if (leading) {
                dcs.renewLeader();
            }
        } catch (Exception e) {
            // The next beat tries again; a test that needs the keys checks them itself.
        }
    }

    /** Publishes the member key: running, with {@code role}, at {@code connUrl}, its WAL at {@code position}. */
    void publish(Role role, String connUrl, long position) throws Exception {
        publish(role, connUrl, position, false);
    }

    /** {@code draining}: the flag a leader publishes before a planned switchover (ha-core's switchoverDrain). */
    void publish(Role role, String connUrl, long position, boolean draining) throws Exception {
        Member m = new Member(name, connUrl, null, "running", role, Lsn.of(position), null, null,
                role == Role.REPLICA ? "streaming" : null, 1, null, false, false, draining, Map.of(), 0);
        dcs.touchMember(m);
        published = m;
    }

    boolean lead() throws Exception {
        leading = dcs.acquireLeader();
        return leading;
    }

    boolean release() throws Exception {
        leading = false;
        return dcs.releaseLeader();
    }

    Dcs dcs() {
        return dcs;
    }

    @Override
    public void close() {
        heartbeat.shutdownNow();
        dcs.close();
    }
}
