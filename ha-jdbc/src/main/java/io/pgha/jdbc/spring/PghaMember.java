package io.pgha.jdbc.spring;

import io.pgha.core.api.HaCluster;
import io.pgha.core.api.HaClusterBuilder;
import io.pgha.core.config.DataSize;
import io.pgha.core.config.RestSettings;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;

/**
 * The embedded member of {@code pgha.member.*}, bound to the application's lifecycle: started once the context is
 * refreshed (after the web server, phase {@link #PHASE}), closed on shutdown before the web server stops, in the
 * background so Spring's per-phase shutdown timeout bounds it. {@link HaCluster#close()} stops PostgreSQL and only
 * then gives up the leader lock, so another member takes over at once instead of after the lease's ttl.
 */
public final class PghaMember implements SmartLifecycle {

    static final String PREFIX = "pgha.member.";
    /** Above Boot's web server (DEFAULT_PHASE - 2048) and its graceful shutdown (DEFAULT_PHASE - 1024). */
    static final int PHASE = SmartLifecycle.DEFAULT_PHASE - 512;

    private static final Logger log = LoggerFactory.getLogger(PghaMember.class);

    private final PghaMemberProperties properties;
    private final AtomicReference<HaCluster> cluster = new AtomicReference<>();

    PghaMember(PghaMemberProperties properties) {
        this.properties = properties;
    }

    /** The running member; empty before the context is ready and after shutdown. */
    public Optional<HaCluster> cluster() {
        return Optional.ofNullable(cluster.get());
    }

    @Override
    public void start() {
        HaClusterBuilder b;
        try {
            b = builder(properties);
        } catch (InvalidPghaPropertyException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw new InvalidPghaPropertyException(MemberPropertyNames.inPropertyTerms(e.getMessage()), e);
        }
        try {
            cluster.set(b.start());
        } catch (IllegalArgumentException e) {
            throw new InvalidPghaPropertyException(MemberPropertyNames.inPropertyTerms(e.getMessage()), e);
        }
    }

    static HaClusterBuilder builder(PghaMemberProperties p) {
        PghaMemberProperties.Postgres pg = p.getPostgres();
        PghaMemberProperties.Rest rest = p.getRest();
        if (p.getDcs().getType() == null) {
            throw new InvalidPghaPropertyException(PREFIX + "dcs.type must be set (zookeeper, etcd or consul)");
        }
        if (pg.getConnectHost() == null || pg.getConnectHost().isBlank()) {
            throw new InvalidPghaPropertyException(PREFIX + "postgres.connect-host is required: the address other"
                    + " members and clients reach this PostgreSQL at");
        }
        HaClusterBuilder b = HaCluster.builder().scope(p.getScope()).member(p.getName())
                .namespace(p.getNamespace())
                .dcs(PghaDataSources.storeFactory(PREFIX, p.getDcs()))
                .postgres(s -> {
                    s.binDir(pg.getBinDir()).dataDir(pg.getDataDir()).nodeDir(pg.getNodeDir())
                            .listen(pg.getListenHost(), pg.getListenPort())
                            .connectAddress(pg.getConnectHost(),
                                    pg.getConnectPort() == null ? pg.getListenPort() : pg.getConnectPort())
                            .superuser(pg.getSuperuserName(), pg.getSuperuserPassword())
                            .replication(pg.getReplicationName(), pg.getReplicationPassword())
                            .parameters(pg.getParameters());
                    if (!pg.getInitdbArgs().isEmpty()) {
                        s.initdbArgs(pg.getInitdbArgs());
                    }
                })
                .restApi(RestSettings.builder().listen(rest.getListenHost(), rest.getPort())
                        .credentials(rest.getUsername(), rest.getPassword()).build());
        if (p.getTtl() != null) {
            b.ttl(p.getTtl());
        }
        if (p.getLoopWait() != null) {
            b.loopWait(p.getLoopWait());
        }
        if (p.getRetryTimeout() != null) {
            b.retryTimeout(p.getRetryTimeout());
        }
        if (p.getMaximumLagOnFailover() != null) {
            b.maximumLagOnFailover(DataSize.ofBytes(p.getMaximumLagOnFailover().toBytes()));
        }
        if (p.getSynchronousMode() != null) {
            b.synchronousMode(p.getSynchronousMode());
        }
        if (p.getSwitchoverDrain() != null) {
            b.switchoverDrain(p.getSwitchoverDrain());
        }
        if (p.getOnClose() != null) {
            b.onClose(p.getOnClose());
        }
        return b;
    }

    @Override
    public void stop() {
        HaCluster c = cluster.getAndSet(null);
        if (c != null) {
            c.close();
        }
    }

    @Override
    public void stop(Runnable callback) {
        HaCluster c = cluster.getAndSet(null);
        if (c == null) {
            callback.run();
            return;
        }
        Thread t = new Thread(() -> {
            try {
                c.close();
            } catch (RuntimeException e) {
                log.warn("closing pgha member {} failed", c.name(), e);
            } finally {
                callback.run();
            }
        }, "pgha-member-close");
        t.setDaemon(false);
        t.start();
    }

    @Override
    public boolean isRunning() {
        return cluster.get() != null;
    }

    @Override
    public int getPhase() {
        return PHASE;
    }
}
