package io.pgha.core.internal.watchdog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link DeviceWatchdog} on the machine's real {@code /dev/watchdog}: inspected, armed, kept alive, disarmed, with the
 * kernel's own {@code state} attribute as the witness. Never by default: a device this test failed to disarm would
 * reset the machine. Runs only where the device exists and {@code PGHA_TEST_REAL_WATCHDOG=1} is set; load a harmless
 * one first with {@code modprobe softdog soft_margin=60 soft_noboot=1} (it logs instead of resetting).
 */
@Timeout(60)
class RealWatchdogDeviceTest {

    private static final Path DEVICE = Path.of("/dev/watchdog");

    @Test
    void theRealDeviceIsArmedByAKeepaliveAndStoppedByTheMagicClose() throws Exception {
        assumeTrue(Files.exists(DEVICE), "skipped: this machine has no " + DEVICE + " (load one with `modprobe softdog"
                + " soft_margin=60 soft_noboot=1` and set PGHA_TEST_REAL_WATCHDOG=1 to run it)");
        assumeTrue("1".equals(System.getenv("PGHA_TEST_REAL_WATCHDOG")), "skipped: " + DEVICE + " exists, but this"
                + " test arms it, and a device it failed to disarm would reset the machine; set"
                + " PGHA_TEST_REAL_WATCHDOG=1 to run it (ideally on softdog with soft_noboot=1)");

        DeviceWatchdog.Inspection found = DeviceWatchdog.inspect(DEVICE);
        assertThat(found.problem()).as("the device is usable").isNull();
        DeviceWatchdog w = found.watchdog();
        Path state = Path.of("/sys/class/watchdog/watchdog0/state");
        assertThat(Files.readString(state).trim()).as("idle before the test").isEqualTo("inactive");
        try {
            w.keepalive();
            assertThat(Files.readString(state).trim()).as("armed by the first keepalive").isEqualTo("active");
            Thread.sleep(500);
            w.keepalive();
        } finally {
            w.disarm();
        }
        assertThat(Files.readString(state).trim()).as("stopped by 'V' and the close").isEqualTo("inactive");
    }
}
