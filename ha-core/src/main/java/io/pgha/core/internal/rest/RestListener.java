package io.pgha.core.internal.rest;

import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import io.pgha.core.config.RestSettings;
import io.pgha.core.config.RestTls;
import io.pgha.core.config.VerifyClient;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.util.Objects;
import java.util.concurrent.Executor;
import javax.net.ssl.SSLParameters;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The REST API's listening socket (plain or TLS): bound before the API serves, so its port can be published first;
 * moved to another address by a reload, the new socket serving before the old one closes; closed with the API.
 * Every socket it opens hands its requests to the same handler on the same pool.
 */
final class RestListener {

    private static final Logger LOG = LoggerFactory.getLogger(RestListener.class);

    /**
     * How long a server left behind by {@link #rebind} lets its requests run on before it cuts their connections:
     * a health check or a patronictl call ends well within it; a waiting switchover is cut.
     */
    static final int REBIND_GRACE_SECONDS = 5;

    private final RestSettings settings;
    private final Object lock = new Object();
    /** The server that listens now; replaced by {@link #rebind}, written under {@link #lock}. */
    private volatile HttpServer server;
    private HttpHandler handler;
    private Executor executor;
    private boolean closed;

    private RestListener(RestSettings settings, HttpServer server) {
        this.settings = settings;
        this.server = server;
    }

    /** Binds {@code settings}' address without serving yet. */
    static RestListener bind(RestSettings settings) throws IOException {
        return new RestListener(settings, create(settings, new InetSocketAddress(settings.listenHost(),
                settings.port())));
    }

    /** Starts handing requests to {@code handler}, run on {@code executor}. */
    void start(HttpHandler handler, Executor executor) {
        synchronized (lock) {
            this.handler = Objects.requireNonNull(handler, "handler");
            this.executor = Objects.requireNonNull(executor, "executor");
            serveOn(server);
        }
    }

    /** The bound address (the real port when 0 was asked for). */
    InetSocketAddress address() {
        return server.getAddress();
    }

    /**
     * Moves to {@code host:port}: the new socket is bound and serving before the old server is told to stop, so the
     * member is never without its API. The old server refuses new connections at once and stops when its requests
     * are done, after at most {@link #REBIND_GRACE_SECONDS} (on a thread of its own: the caller does not wait).
     * Another host on the same port cannot be bound beside the old socket: then the old one is closed first, and
     * bound again should the new one fail.
     *
     * @return the address now bound
     * @throws IOException the new address cannot be bound (in use, not local, unknown host): the old one serves on
     * @throws IllegalStateException not serving (not started yet, or closed)
     */
    InetSocketAddress rebind(String host, int port, String prefix) throws IOException {
        synchronized (lock) {
            if (handler == null || closed) {
                throw new IllegalStateException("the REST API is not serving (" + (closed ? "closed" : "not started")
                        + ")");
            }
            HttpServer old = server;
            InetSocketAddress at = new InetSocketAddress(host, port);
            HttpServer next;
            try {
                next = create(settings, at);
            } catch (BindException e) {
                if (port == 0 || port != old.getAddress().getPort()) {
                    throw e;
                }
                next = swap(old, at, prefix);
                LOG.info("{}REST API now listening on {} (was {}; its connections were cut)", prefix,
                        next.getAddress(), old.getAddress());
                return next.getAddress();
            }
            serveOn(next);
            server = next;
            LOG.info("{}REST API now listening on {} (was {})", prefix, next.getAddress(), old.getAddress());
            Thread t = new Thread(() -> old.stop(REBIND_GRACE_SECONDS), "pgha-rest-unbind-" + old.getAddress());
            t.setDaemon(true);
            t.start();
            return next.getAddress();
        }
    }

    /** Stops listening and cuts the open connections. */
    void close() {
        synchronized (lock) {
            closed = true;
            server.stop(0);
        }
    }

    /** Closes {@code old}, then binds {@code at}; when that fails, binds the old address (just freed) again. */
    private HttpServer swap(HttpServer old, InetSocketAddress at, String prefix) throws IOException {
        InetSocketAddress was = old.getAddress();
        old.stop(0);
        HttpServer next;
        try {
            next = create(settings, at);
        } catch (IOException e) {
            try {
                next = create(settings, was);
            } catch (IOException again) {
                LOG.error("{}REST API cannot bind {} again after {} failed: it serves no more until a reload or a "
                        + "restart ({})", prefix, was, at, again.getMessage());
                throw e;
            }
            serveOn(next);
            server = next;
            throw e;
        }
        serveOn(next);
        server = next;
        return next;
    }

    private void serveOn(HttpServer s) {
        s.setExecutor(executor);
        s.createContext("/", handler);
        s.start();
    }

    private static HttpServer create(RestSettings settings, InetSocketAddress at) throws IOException {
        if (at.isUnresolved()) {
            throw new IOException("unknown host " + at.getHostString());
        }
        RestTls tls = settings.tls();
        if (tls == null) {
            return HttpServer.create(at, settings.queueSize());
        }
        HttpsServer server = HttpsServer.create(at, settings.queueSize());
        server.setHttpsConfigurator(new HttpsConfigurator(tls.sslContext()) {
            @Override
            public void configure(HttpsParameters params) {
                SSLParameters p = getSSLContext().getDefaultSSLParameters();
                // "required" is enforced by the handshake; "optional" asks, and unsafe requests check (respond()).
                p.setNeedClientAuth(tls.verifyClient() == VerifyClient.REQUIRED);
                if (tls.verifyClient() == VerifyClient.OPTIONAL) {
                    p.setWantClientAuth(true);
                }
                if (!tls.cipherSuites().isEmpty()) {
                    // restapi.ciphers: the server picks by its list's order, as OpenSSL servers configured so do.
                    p.setCipherSuites(tls.cipherSuites().toArray(String[]::new));
                    p.setUseCipherSuitesOrder(true);
                }
                params.setSSLParameters(p);
            }
        });
        return server;
    }
}
