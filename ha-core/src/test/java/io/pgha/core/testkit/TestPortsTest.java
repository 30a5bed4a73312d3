package io.pgha.core.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class TestPortsTest {

    @Test
    void portsComeFromOutsideTheEphemeralRangeSoOutgoingConnectionsCannotTakeThem() throws Exception {
        int low = 32768;
        int high = 60999;
        Path range = Path.of("/proc/sys/net/ipv4/ip_local_port_range");
        if (Files.isReadable(range)) {
            String[] f = Files.readAllLines(range).get(0).trim().split("\\s+");
            low = Integer.parseInt(f[0]);
            high = Integer.parseInt(f[1]);
        }
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < 20; i++) {
            int p = TestPorts.freePort();
            assertThat(p).isGreaterThanOrEqualTo(1024).isLessThanOrEqualTo(65535);
            assertThat(p < low || p > high).as("port %d outside %d..%d", p, low, high).isTrue();
            assertThat(seen.add(p)).as("handed out twice: %d", p).isTrue();
            try (ServerSocket s = new ServerSocket(p, 1, InetAddress.getLoopbackAddress())) {
                assertThat(s.getLocalPort()).isEqualTo(p);
            }
        }
    }

    @Test
    void aPortAnotherProcessHasClaimedIsNotClaimedAgain() throws Exception {
        // Another JVM's claim is a lock on the port's file; a lock held through another channel looks the same here.
        int p = TestPorts.span(new int[] {32768, 60999})[0] + 7;
        Files.createDirectories(TestPorts.CLAIMS);
        try (FileChannel other = FileChannel.open(TestPorts.CLAIMS.resolve(Integer.toString(p)),
                StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                FileLock held = other.tryLock()) {
            org.junit.jupiter.api.Assumptions.assumeTrue(held != null, "port " + p + " is claimed by a running build");
            assertThat(TestPorts.claimed(p)).isFalse();
        }
    }

    @Test
    void theSpanIsBelowTheEphemeralRangeWhenThereIsRoomElseAbove() {
        assertThat(TestPorts.span(new int[] {32768, 60999})).containsExactly(20768, 32767);
        assertThat(TestPorts.span(new int[] {4000, 60999})).containsExactly(1024, 3999);
        assertThat(TestPorts.span(new int[] {1024, 50000})).containsExactly(50001, 62000);
        assertThatThrownBy(() -> TestPorts.span(new int[] {1024, 65000}))
                .hasMessageContaining("1024..65000");
    }
}
