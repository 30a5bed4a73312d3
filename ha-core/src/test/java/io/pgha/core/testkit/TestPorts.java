package io.pgha.core.testkit;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Loopback ports for servers a test configures now and starts later (PostgreSQL, an agent's REST API, etcd).
 *
 * <p>A port from {@code bind(0)} lies in the kernel's ephemeral range, which is also where every outgoing connection
 * takes its local port. On a busy test machine one of them can take the port before the server binds it (CI saw an
 * agent's REST API fail with "Address already in use" on every restart). So the ports come from below the ephemeral
 * range (or above it when it starts too low), which the kernel never hands out by itself.
 *
 * <p>Several test JVMs run at once (the build runs modules in parallel, and other worktrees' builds may run beside
 * it): a port one JVM handed out but whose server has not bound it yet looks free to the others. Each handed-out port
 * is therefore also claimed by a lock on a file named after it in the temporary directory, held until the JVM exits
 * (the kernel drops it then, even after kill -9), and a port another JVM has claimed is skipped.
 */
public final class TestPorts {

    private static final Path EPHEMERAL_RANGE = Path.of("/proc/sys/net/ipv4/ip_local_port_range");
    private static final int LOWEST_UNPRIVILEGED = 1024;
    private static final int MIN_SPAN = 2000;
    private static final int WIDEST_SPAN = 12_000;
    private static final Set<Integer> HANDED_OUT = new HashSet<>();
    static final Path CLAIMS = Path.of(System.getProperty("java.io.tmpdir"), "pgha-test-ports");
    /** The claims this JVM holds; kept reachable so no lock is released before the JVM exits. */
    private static final List<FileLock> CLAIMED = new ArrayList<>();

    private TestPorts() {}

    /** A loopback port nobody listens on now, outside the ephemeral range, not handed out before in this JVM. */
    public static int freePort() throws IOException {
        int[] span = span(ephemeralRange());
        int size = span[1] - span[0] + 1;
        int start = ThreadLocalRandom.current().nextInt(size);
        synchronized (HANDED_OUT) {
            for (int i = 0; i < size; i++) {
                int p = span[0] + (start + i) % size;
                if (!HANDED_OUT.contains(p) && bindable(p) && claimed(p)) {
                    HANDED_OUT.add(p);
                    return p;
                }
            }
        }
        throw new IOException("no free loopback port in " + span[0] + ".." + span[1]);
    }

    /** Below the ephemeral range when there is room, else above it; {@code [low, high]} inclusive. */
    static int[] span(int[] ephemeral) {
        int belowHigh = ephemeral[0] - 1;
        if (belowHigh - LOWEST_UNPRIVILEGED + 1 >= MIN_SPAN) {
            return new int[] {Math.max(LOWEST_UNPRIVILEGED, belowHigh - WIDEST_SPAN + 1), belowHigh};
        }
        int aboveLow = ephemeral[1] + 1;
        if (65535 - aboveLow + 1 >= MIN_SPAN) {
            return new int[] {aboveLow, Math.min(65535, aboveLow + WIDEST_SPAN - 1)};
        }
        throw new IllegalStateException("the ephemeral port range " + ephemeral[0] + ".." + ephemeral[1]
                + " leaves fewer than " + MIN_SPAN + " ports outside it for test servers");
    }

    private static int[] ephemeralRange() throws IOException {
        if (!Files.isReadable(EPHEMERAL_RANGE)) {
            return new int[] {32768, 60999}; // Linux's default
        }
        // Not Files.readString: procfs reports size 0, and readString then returns only the first byte.
        String[] f = Files.readAllLines(EPHEMERAL_RANGE).get(0).trim().split("\\s+");
        return new int[] {Integer.parseInt(f[0]), Integer.parseInt(f[1])};
    }

    /** Claims {@code port} for this JVM; false when another JVM holds the claim. */
    static boolean claimed(int port) throws IOException {
        Files.createDirectories(CLAIMS);
        FileChannel ch = FileChannel.open(CLAIMS.resolve(Integer.toString(port)), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE);
        try {
            FileLock lock = ch.tryLock();
            if (lock != null) {
                CLAIMED.add(lock);
                return true;
            }
        } catch (OverlappingFileLockException e) {
            // another channel of this JVM holds it (HANDED_OUT covers freePort's own claims): taken
        }
        ch.close();
        return false;
    }

    private static boolean bindable(int port) {
        // Without SO_REUSEADDR, so a port still in TIME_WAIT from an earlier test is skipped, not shared.
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(false);
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
