package io.pgha.core.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class TcpProxyTest {

    /** How long "nothing arrives" is watched for; long enough to be meaningful on a loaded 2-core machine. */
    private static final int SILENCE_MS = 400;

    private EchoServer echo;
    private TcpProxy proxy;
    private final List<Socket> clients = new ArrayList<>();

    @BeforeEach
    void start() throws IOException {
        echo = new EchoServer();
        proxy = TcpProxy.start("127.0.0.1", echo.port());
    }

    @AfterEach
    void stop() {
        clients.forEach(TcpProxyTest::closeQuietly);
        if (proxy != null) {
            proxy.close();
        }
        if (echo != null) {
            echo.close();
        }
    }

    @Test
    void forwardsBothWays() throws IOException {
        Socket s = connect();
        send(s, "hello");
        assertThat(receive(s, 5, 5_000)).isEqualTo("hello");
        assertThat(proxy.openConnections()).isEqualTo(1);
    }

    @Test
    void blackholeHoldsTrafficUntilHealed() throws IOException {
        Socket s = connect();
        send(s, "one");
        assertThat(receive(s, 3, 5_000)).isEqualTo("one");

        proxy.blackhole();
        send(s, "two");
        assertThatThrownBy(() -> receive(s, 3, SILENCE_MS)).isInstanceOf(SocketTimeoutException.class);
        assertThat(proxy.openConnections()).as("a silent partition keeps the connection").isEqualTo(1);

        proxy.heal();
        assertThat(receive(s, 3, 5_000)).as("held bytes are delivered after the heal").isEqualTo("two");
    }

    @Test
    void blackholeAcceptsNewConnectionsButForwardsNothing() throws IOException {
        proxy.blackhole();
        Socket s = connect();
        send(s, "ping");
        assertThatThrownBy(() -> receive(s, 4, SILENCE_MS)).isInstanceOf(SocketTimeoutException.class);

        proxy.heal();
        assertThat(receive(s, 4, 5_000)).isEqualTo("ping");
    }

    @Test
    void blackholeHidesACloseUntilHealed() throws IOException {
        Socket s = connect();
        send(s, "x");
        assertThat(receive(s, 1, 5_000)).isEqualTo("x");
        await().atMost(Duration.ofSeconds(5)).until(() -> echo.openConnections() == 1);

        proxy.blackhole();
        s.close();
        assertThatThrownBy(() -> await().atMost(Duration.ofMillis(SILENCE_MS)).until(() -> echo.openConnections() == 0))
                .as("the server must not learn of the close during a partition")
                .isInstanceOf(org.awaitility.core.ConditionTimeoutException.class);

        proxy.heal();
        await().atMost(Duration.ofSeconds(5)).until(() -> echo.openConnections() == 0);
    }

    @Test
    void resetAbortsConnectionsAndRefusesNewOnesUntilHealed() throws IOException {
        Socket s = connect();
        send(s, "a");
        assertThat(receive(s, 1, 5_000)).isEqualTo("a");

        proxy.reset();
        assertThat(readFails(s)).as("an existing connection is cut").isTrue();
        await().atMost(Duration.ofSeconds(5)).until(() -> proxy.openConnections() == 0);

        assertThat(newConnectionIsReset()).as("a new connection is reset").isTrue();

        proxy.heal();
        Socket again = connect();
        send(again, "b");
        assertThat(receive(again, 1, 5_000)).isEqualTo("b");
    }

    @Test
    void latencyDelaysEachDirection() throws IOException {
        proxy.latency(Duration.ofMillis(300));
        Socket s = connect();
        long start = System.nanoTime();
        send(s, "slow");
        assertThat(receive(s, 4, 10_000)).isEqualTo("slow");
        long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertThat(elapsedMs).as("two delayed hops").isGreaterThanOrEqualTo(550);

        proxy.latency(Duration.ZERO);
        send(s, "fast");
        assertThat(receive(s, 4, 5_000)).isEqualTo("fast");
    }

    @Test
    void refusesTargetsOffTheMachineAndBadSettings() {
        assertThatThrownBy(() -> TcpProxy.start("192.0.2.1", 80))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("loopback");
        assertThatThrownBy(() -> TcpProxy.start("127.0.0.1", 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("port");
        assertThatThrownBy(() -> proxy.latency(Duration.ofMillis(-1)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void closeCutsConnectionsAndStopsListening() throws IOException {
        Socket s = connect();
        send(s, "z");
        assertThat(receive(s, 1, 5_000)).isEqualTo("z");
        int port = proxy.port();

        proxy.close();
        assertThat(readFails(s)).isTrue();
        assertThat(proxy.openConnections()).isZero();
        assertThatThrownBy(() -> new Socket(InetAddress.getLoopbackAddress(), port).close())
                .isInstanceOf(ConnectException.class);
        assertThatThrownBy(proxy::blackhole).isInstanceOf(IllegalStateException.class);
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private Socket connect() throws IOException {
        Socket s = new Socket();
        clients.add(s);
        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), proxy.port()), 5_000);
        return s;
    }

    private static void send(Socket s, String text) throws IOException {
        OutputStream out = s.getOutputStream();
        out.write(text.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static String receive(Socket s, int length, int timeoutMs) throws IOException {
        s.setSoTimeout(timeoutMs);
        byte[] buf = new byte[length];
        int got = 0;
        InputStream in = s.getInputStream();
        while (got < length) {
            int n = in.read(buf, got, length - got);
            if (n < 0) {
                throw new IOException("closed after " + got + " bytes");
            }
            got += n;
        }
        return new String(buf, StandardCharsets.UTF_8);
    }

    /** The reset may hit the client while it is still connecting, or on its first read: both are a refusal. */
    private boolean newConnectionIsReset() {
        try {
            return readFails(connect());
        } catch (IOException e) {
            return true;
        }
    }

    /** True when the connection ends (EOF or reset) within 5 s. */
    private static boolean readFails(Socket s) {
        try {
            s.setSoTimeout(5_000);
            return s.getInputStream().read() < 0;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true;
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // test cleanup
        }
    }

    /** Echoes every byte back; counts its open connections. */
    private static final class EchoServer implements AutoCloseable {
        private final ServerSocket server;
        private final ExecutorService threads = Executors.newFixedThreadPool(8, r -> {
            Thread t = new Thread(r, "echo");
            t.setDaemon(true);
            return t;
        });
        private final java.util.concurrent.atomic.AtomicInteger open = new java.util.concurrent.atomic.AtomicInteger();

        EchoServer() throws IOException {
            server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            threads.execute(this::acceptLoop);
        }

        int port() {
            return server.getLocalPort();
        }

        int openConnections() {
            return open.get();
        }

        private void acceptLoop() {
            while (!server.isClosed()) {
                try {
                    Socket s = server.accept();
                    open.incrementAndGet();
                    threads.execute(() -> echo(s));
                } catch (IOException e) {
                    return;
                }
            }
        }

        private void echo(Socket s) {
            try (s) {
                byte[] buf = new byte[1024];
                InputStream in = s.getInputStream();
                OutputStream out = s.getOutputStream();
                int n;
                while ((n = in.read(buf)) >= 0) {
                    out.write(buf, 0, n);
                    out.flush();
                }
            } catch (IOException e) {
                // peer went away
            } finally {
                open.decrementAndGet();
            }
        }

        @Override
        public void close() {
            try {
                server.close();
            } catch (IOException e) {
                // test cleanup
            }
            threads.shutdownNow();
        }
    }
}
