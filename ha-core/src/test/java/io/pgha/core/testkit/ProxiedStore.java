package io.pgha.core.testkit;

import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DcsFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntSupplier;

/**
 * A store on loopback that every member reaches through its own {@link TcpProxy}, so that what happens to one member's
 * network (a crash resetting its connections, a silent partition) is a real network event for its client and for the
 * store, and touches no other member.
 *
 * <p>Give it to {@link DcsContractTest#proxiedStore()} and the contract's factory, crash, partition and clean-up hooks
 * use it; other tests may use it on their own and {@link #close()} it.
 */
public final class ProxiedStore implements AutoCloseable {

    /** Opens a member's client against its proxy. */
    @FunctionalInterface
    public interface Client {
        /**
         * @param address {@code 127.0.0.1:<port>} of the member's own proxy, where the store is to be reached
         * @param context the member's context
         */
        Dcs open(String address, DcsContext context);
    }

    private final IntSupplier storePort;
    private final Client client;
    private final Map<Dcs, TcpProxy> proxies = new ConcurrentHashMap<>();

    /**
     * @param storePort the store's port on 127.0.0.1, asked each time a member is opened (a restarted store may move)
     * @param client    opens a member's client against an address
     */
    public ProxiedStore(IntSupplier storePort, Client client) {
        this.storePort = Objects.requireNonNull(storePort, "storePort");
        this.client = Objects.requireNonNull(client, "client");
    }

    /** Opens each member with a proxy of its own in front of the store. */
    public DcsFactory factory() {
        return context -> {
            TcpProxy proxy;
            try {
                proxy = TcpProxy.start("127.0.0.1", storePort.getAsInt());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            try {
                Dcs dcs = client.open(proxy.address(), context);
                proxies.put(dcs, proxy);
                return dcs;
            } catch (RuntimeException e) {
                proxy.close();
                throw e;
            }
        };
    }

    /** The proxy in front of {@code member}. */
    public TcpProxy proxyOf(Dcs member) {
        TcpProxy p = proxies.get(member);
        if (p == null) {
            throw new IllegalArgumentException(member + " was not opened through this store's factory");
        }
        return p;
    }

    /**
     * The member's process dies: its connections are reset, then its client is closed, which cannot reach the store
     * any more (new connections are reset too), so the store keeps its lease until it runs out.
     */
    public void crash(Dcs member) {
        proxyOf(member).reset();
        member.close();
    }

    /** Silent partition of {@code member}: see {@link TcpProxy#blackhole()}. */
    public void blackhole(Dcs member) {
        proxyOf(member).blackhole();
    }

    /** Ends a partition or a reset of {@code member}. */
    public void heal(Dcs member) {
        proxyOf(member).heal();
    }

    /**
     * Closes every member's client first, while its proxy still forwards, so its lease ends cleanly; then the
     * proxies. The store may be opened through again afterwards.
     */
    @Override
    public void close() {
        List<Dcs> members = new ArrayList<>(proxies.keySet());
        for (Dcs d : members) {
            try {
                d.close();
            } catch (RuntimeException e) {
                // a crashed member may object; its proxy is closed below either way
            }
        }
        for (Dcs d : members) {
            TcpProxy p = proxies.remove(d);
            if (p != null) {
                p.close();
            }
        }
    }
}
