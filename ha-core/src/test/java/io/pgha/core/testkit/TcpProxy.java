package io.pgha.core.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An in-process TCP proxy for fault injection: a client connects to {@link #address()} instead of the target, and
 * the test cuts, silences or slows the link while both ends keep running.
 *
 * <ul>
 *   <li>{@link #blackhole()}: a silent partition. Connections stay open and new ones are accepted, but nothing
 *       reaches the other side, not even a close. Bytes are held, not dropped, so a partition that heals before
 *       either end gives up leaves the streams intact, as TCP retransmission would.</li>
 *   <li>{@link #reset()}: every connection is aborted with a TCP reset and new ones are reset on accept.</li>
 *   <li>{@link #heal()}: back to forwarding; held bytes are delivered.</li>
 *   <li>{@link #latency(Duration)}: each chunk waits this long before it is forwarded.</li>
 * </ul>
 *
 * <p>Listens on 127.0.0.1 (a free port) and forwards to loopback targets only, so a test can never reach beyond the
 * machine. Threads are bounded: one acceptor plus two per connection, at most {@code maxConnections} connections;
 * {@link #close()} stops them all.
 */
public final class TcpProxy implements AutoCloseable {

    /** What the proxy does with traffic now. */
    public enum Mode {
        FORWARD,
        BLACKHOLE,
        RESET
    }

    private static final int DEFAULT_MAX_CONNECTIONS = 32;
    private static final int CONNECT_TIMEOUT_MS = 2_000;

    private final InetSocketAddress target;
    private final int maxConnections;
    private final ServerSocket server;
    private final ThreadPoolExecutor pumps;
    private final Thread acceptor;
    private final Set<Link> links = ConcurrentHashMap.newKeySet();
    private final Object gate = new Object();
    private final AtomicInteger accepted = new AtomicInteger();

    private volatile Mode mode = Mode.FORWARD;
    private volatile long latencyNanos;
    private volatile boolean closed;

    private TcpProxy(InetSocketAddress target, int maxConnections) throws IOException {
        this.target = target;
        this.maxConnections = maxConnections;
        this.server = new ServerSocket();
        this.server.setReuseAddress(true);
        this.server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
        String name = "tcp-proxy-" + server.getLocalPort();
        AtomicInteger n = new AtomicInteger();
        this.pumps = new ThreadPoolExecutor(0, 2 * maxConnections, 10, TimeUnit.SECONDS, new SynchronousQueue<>(),
                r -> {
                    Thread t = new Thread(r, name + "-pump-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        this.acceptor = new Thread(this::acceptLoop, name + "-accept");
        this.acceptor.setDaemon(true);
        this.acceptor.start();
    }

    /** Starts a proxy to {@code host:port}; the host must resolve to a loopback address. */
    public static TcpProxy start(String host, int port) throws IOException {
        return start(host, port, DEFAULT_MAX_CONNECTIONS);
    }

    public static TcpProxy start(String host, int port, int maxConnections) throws IOException {
        Objects.requireNonNull(host, "host");
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("TcpProxy target port must be 1-65535 (got " + port + ")");
        }
        if (maxConnections < 1) {
            throw new IllegalArgumentException("TcpProxy maxConnections must be at least 1 (got " + maxConnections + ")");
        }
        InetAddress address = InetAddress.getByName(host);
        if (!address.isLoopbackAddress()) {
            throw new IllegalArgumentException(
                    "TcpProxy forwards to loopback addresses only (got " + host + " = " + address.getHostAddress() + ")");
        }
        return new TcpProxy(new InetSocketAddress(address, port), maxConnections);
    }

    /** The port clients connect to (on 127.0.0.1). */
    public int port() {
        return server.getLocalPort();
    }

    /** {@code 127.0.0.1:<port>}, ready for a connect string. */
    public String address() {
        return "127.0.0.1:" + port();
    }

    public Mode mode() {
        return mode;
    }

    /** Connections currently open through the proxy. */
    public int openConnections() {
        return links.size();
    }

    /** Connections accepted since the start (including refused ones). */
    public int acceptedConnections() {
        return accepted.get();
    }

    /** Silent partition: keep every connection, forward nothing (see the class comment). */
    public void blackhole() {
        setMode(Mode.BLACKHOLE);
    }

    /** Aborts every connection with a TCP reset and resets new ones until {@link #heal()}. */
    public void reset() {
        setMode(Mode.RESET);
        for (Link l : links) {
            l.abort();
        }
    }

    /** Forwards again; bytes held during a blackhole are delivered. */
    public void heal() {
        setMode(Mode.FORWARD);
    }

    /** Delays each forwarded chunk by {@code delay}; {@link Duration#ZERO} turns it off. */
    public void latency(Duration delay) {
        Objects.requireNonNull(delay, "delay");
        if (delay.isNegative()) {
            throw new IllegalArgumentException("TcpProxy latency cannot be negative (got " + delay + ")");
        }
        latencyNanos = delay.toNanos();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        synchronized (gate) {
            gate.notifyAll();
        }
        closeQuietly(server);
        for (Link l : links) {
            l.abort();
        }
        pumps.shutdownNow();
        try {
            acceptor.join(5_000);
            if (!pumps.awaitTermination(5, TimeUnit.SECONDS)) {
                throw new IllegalStateException("TcpProxy " + address() + ": pump threads did not stop within 5 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void setMode(Mode m) {
        if (closed) {
            throw new IllegalStateException("TcpProxy " + address() + " is closed");
        }
        synchronized (gate) {
            mode = m;
            gate.notifyAll();
        }
    }

    private void acceptLoop() {
        while (!closed) {
            Socket client;
            try {
                client = server.accept();
            } catch (IOException e) {
                if (closed) {
                    return;
                }
                continue;
            }
            accepted.incrementAndGet();
            if (mode == Mode.RESET || closed || links.size() >= maxConnections) {
                abort(client);
                continue;
            }
            Socket upstream = new Socket();
            try {
                client.setTcpNoDelay(true);
                upstream.setTcpNoDelay(true);
                upstream.connect(target, CONNECT_TIMEOUT_MS);
            } catch (IOException e) {
                abort(client);
                abort(upstream);
                continue;
            }
            Link link = new Link(client, upstream);
            links.add(link);
            try {
                pumps.execute(() -> link.pump(client, upstream));
                pumps.execute(() -> link.pump(upstream, client));
            } catch (RejectedExecutionException e) {
                link.abort();
            }
        }
    }

    /** Blocks while the proxy is blackholed; false when the link or the proxy closed meanwhile. */
    private boolean awaitForwarding(Link link) throws InterruptedException {
        synchronized (gate) {
            while (mode == Mode.BLACKHOLE && !link.closed && !closed) {
                gate.wait();
            }
        }
        return !link.closed && !closed && mode == Mode.FORWARD;
    }

    /** One client connection and its upstream twin. */
    private final class Link {
        private final Socket client;
        private final Socket upstream;
        private final AtomicInteger finishedDirections = new AtomicInteger();
        private volatile boolean closed;

        Link(Socket client, Socket upstream) {
            this.client = client;
            this.upstream = upstream;
        }

        void pump(Socket from, Socket to) {
            byte[] buf = new byte[16 * 1024];
            try {
                InputStream in = from.getInputStream();
                OutputStream out = to.getOutputStream();
                while (true) {
                    int n = in.read(buf);
                    if (!awaitForwarding(this)) {
                        abort();
                        return;
                    }
                    long delay = latencyNanos;
                    if (delay > 0) {
                        TimeUnit.NANOSECONDS.sleep(delay);
                    }
                    if (n < 0) {
                        // Half-close: the other direction may still carry data.
                        to.shutdownOutput();
                        if (finishedDirections.incrementAndGet() == 2) {
                            abort();
                        }
                        return;
                    }
                    out.write(buf, 0, n);
                    out.flush();
                }
            } catch (IOException | InterruptedException e) {
                abort();
            }
        }

        void abort() {
            if (closed) {
                return;
            }
            closed = true;
            TcpProxy.abort(client);
            TcpProxy.abort(upstream);
            links.remove(this);
            synchronized (gate) {
                gate.notifyAll();
            }
        }
    }

    /** Closes with a TCP reset rather than an orderly FIN, as a crashed peer or a firewall reject would. */
    private static void abort(Socket s) {
        try {
            s.setSoLinger(true, 0);
        } catch (SocketException e) {
            // already closed
        }
        closeQuietly(s);
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            // nothing left to do
        }
    }
}
