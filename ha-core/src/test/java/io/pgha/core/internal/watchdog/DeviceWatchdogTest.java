package io.pgha.core.internal.watchdog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.config.HaSettings;
import io.pgha.core.config.WatchdogMode;
import io.pgha.core.internal.ha.Watchdog;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Linux device driver side of the watchdog, against <b>fakes</b>: a temporary directory stands in for
 * {@code /sys} ({@code class/watchdog/watchdogN/{timeout,nowayout,state,identity}}) and a FIFO or a plain file for
 * {@code /dev/watchdog} (the character-device check is waived for them). A FIFO shows exactly what the kernel would
 * read: one byte per keepalive, {@code 'V'} and then the close. The real device: {@link RealWatchdogDeviceTest}.
 */
@Timeout(60)
class DeviceWatchdogTest {

    @TempDir
    Path dir;

    private final HaSettings settings = HaSettings.builder("wd", "m1").ttl(Duration.ofSeconds(30))
            .loopWait(Duration.ofSeconds(10)).retryTimeout(Duration.ofSeconds(10)).build();

    /** A fake sysfs entry for {@code watchdogN}. */
    private Path sysfs(String entry, String timeout, String nowayout, String state) throws IOException {
        Path root = dir.resolve("sys");
        Path d = Files.createDirectories(root.resolve("class").resolve("watchdog").resolve(entry));
        if (timeout != null) {
            Files.writeString(d.resolve("timeout"), timeout + "\n");
        }
        if (nowayout != null) {
            Files.writeString(d.resolve("nowayout"), nowayout + "\n");
        }
        if (state != null) {
            Files.writeString(d.resolve("state"), state + "\n");
        }
        Files.writeString(d.resolve("identity"), "Software Watchdog\n");
        return root;
    }

    private Path plainDevice(String name) throws IOException {
        return Files.createFile(dir.resolve(name));
    }

    private Path fifo(String name) throws Exception {
        Path p = dir.resolve(name);
        Process mk = new ProcessBuilder("mkfifo", p.toString()).redirectErrorStream(true).start();
        assertThat(mk.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(mk.exitValue()).as("mkfifo").isZero();
        return p;
    }

    private static DeviceWatchdog usable(DeviceWatchdog.Inspection i) {
        assertThat(i.problem()).isNull();
        return i.watchdog();
    }

    @Test
    void aUsableDeviceHasItsTimeoutReadFromSysfs() throws IOException {
        Path root = sysfs("watchdog0", "25", "0", "inactive");
        DeviceWatchdog w = usable(DeviceWatchdog.inspect(plainDevice("watchdog"), root, false));
        assertThat(w.timeout()).isEqualTo(Duration.ofSeconds(25));
        assertThat(w.describe()).endsWith("watchdog (Software Watchdog)");
    }

    @Test
    void aNumberedDeviceAndASymlinkToItFindTheirOwnSysfsEntry() throws IOException {
        Path root = sysfs("watchdog1", "40", "0", null);
        sysfs("watchdog0", "10", "0", null);
        Path real = plainDevice("watchdog1");
        Path link = Files.createSymbolicLink(dir.resolve("mydog"), real);
        assertThat(usable(DeviceWatchdog.inspect(real, root, false)).timeout()).isEqualTo(Duration.ofSeconds(40));
        assertThat(usable(DeviceWatchdog.inspect(link, root, false)).timeout()).isEqualTo(Duration.ofSeconds(40));
    }

    @Test
    void unusableDevicesAreRefusedWithTheReason() throws IOException {
        Path root = sysfs("watchdog0", "25", "1", null);
        Path device = plainDevice("watchdog");
        assertThat(DeviceWatchdog.inspect(dir.resolve("nothing"), root, false).problem())
                .startsWith("there is no watchdog device at " + dir.resolve("nothing"))
                .contains("modprobe softdog soft_margin=");
        assertThat(DeviceWatchdog.inspect(device, root, false).problem())
                .contains("has nowayout set").contains("can never be disarmed").contains("nowayout=0");

        Files.writeString(root.resolve("class/watchdog/watchdog0/nowayout"), "0\n");
        Files.writeString(root.resolve("class/watchdog/watchdog0/state"), "active\n");
        assertThat(DeviceWatchdog.inspect(device, root, false).problem()).contains("is already active");

        Files.writeString(root.resolve("class/watchdog/watchdog0/state"), "inactive\n");
        Files.writeString(root.resolve("class/watchdog/watchdog0/timeout"), "soon\n");
        assertThat(DeviceWatchdog.inspect(device, root, false).problem())
                .contains("is not a positive number of seconds (got 'soon')");

        Files.delete(root.resolve("class/watchdog/watchdog0/timeout"));
        assertThat(DeviceWatchdog.inspect(device, root, false).problem())
                .startsWith("cannot read the timeout of " + device).contains("CONFIG_WATCHDOG_SYSFS");

        Path odd = plainDevice("dog");
        assertThat(DeviceWatchdog.inspect(odd, root, false).problem())
                .contains("cannot tell which /sys/class/watchdog entry belongs to");
    }

    @Test
    void onlyACharacterDeviceIsAcceptedForReal() throws IOException {
        Path root = sysfs("watchdog0", "25", "0", null);
        assertThat(DeviceWatchdog.inspect(plainDevice("watchdog"), root, true).problem())
                .endsWith("watchdog is not a character device");
        // /dev/null is a character device, but not a watchdog one.
        assertThat(DeviceWatchdog.inspect(Path.of("/dev/null"), root, true).problem())
                .contains("cannot tell which /sys/class/watchdog entry belongs to /dev/null");
    }

    @Test
    void keepalivesWriteOneByteEachAndTheDisarmIsTheMagicCloseAndTheDeviceCanBeArmedAgain() throws Exception {
        Path root = sysfs("watchdog0", "25", "0", null);
        Path device = fifo("watchdog");
        BlockingQueue<String> seen = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> readEveryOpening(device, seen), "fifo-reader");
        reader.setDaemon(true);
        reader.start();
        try {
            DeviceWatchdog w = usable(DeviceWatchdog.inspect(device, root, false));
            w.keepalive();
            w.keepalive();
            w.keepalive();
            w.disarm();
            assertThat(seen.poll(20, TimeUnit.SECONDS)).as("what the kernel read before the close").isEqualTo("...V");
            w.disarm(); // not armed: nothing
            w.keepalive();
            w.disarm();
            assertThat(seen.poll(20, TimeUnit.SECONDS)).isEqualTo(".V");
            assertThat(seen.poll(200, TimeUnit.MILLISECONDS)).as("the second disarm wrote nothing").isNull();
        } finally {
            reader.interrupt();
            // Unblocks a reader waiting in open(): a writer comes and goes.
            new FileOutputStream(device.toFile()).close();
            reader.join(10_000);
        }
    }

    @Test
    void aTimeoutChangedSinceTheInspectionIsNotArmed() throws IOException {
        Path root = sysfs("watchdog0", "25", "0", null);
        Path device = plainDevice("watchdog");
        DeviceWatchdog w = usable(DeviceWatchdog.inspect(device, root, false));
        Files.writeString(root.resolve("class/watchdog/watchdog0/timeout"), "60\n");
        assertThatThrownBy(w::keepalive).isInstanceOf(IOException.class)
                .hasMessageContaining("changed from 25s to 60s since the start");
        assertThat(Files.size(device)).as("never opened for writing").isZero();
    }

    @Test
    void theStartTimeSelectionFollowsTheMode() throws IOException {
        Path root = sysfs("watchdog0", "25", "0", null);
        Path device = plainDevice("watchdog");
        Path missing = dir.resolve("missing");

        DeviceWatchdog.Selection off = DeviceWatchdog.select(WatchdogMode.OFF, missing, settings, root, false);
        assertThat(off.watchdog()).isSameAs(Watchdog.OFF);
        assertThat(off.warning()).isNull();

        DeviceWatchdog.Selection auto = DeviceWatchdog.select(WatchdogMode.AUTOMATIC, missing, settings, root, false);
        assertThat(auto.watchdog()).isSameAs(Watchdog.OFF);
        assertThat(auto.mode()).isEqualTo(WatchdogMode.OFF);
        assertThat(auto.warning()).startsWith("watchdog " + missing + " not used: there is no watchdog device at")
                .endsWith("running without it (automatic mode)");

        assertThatThrownBy(() -> DeviceWatchdog.select(WatchdogMode.REQUIRED, missing, settings, root, false))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("watchdog required, but there is no watchdog device at " + missing);

        DeviceWatchdog.Selection req = DeviceWatchdog.select(WatchdogMode.REQUIRED, device, settings, root, false);
        assertThat(req.watchdog()).isInstanceOf(DeviceWatchdog.class);
        assertThat(req.mode()).isEqualTo(WatchdogMode.REQUIRED);

        Files.writeString(root.resolve("class/watchdog/watchdog0/timeout"), "20\n");
        assertThatThrownBy(() -> DeviceWatchdog.select(WatchdogMode.REQUIRED, device, settings, root, false))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("watchdog required, but the watchdog timeout must be > loopWait +"
                        + " retryTimeout (got 20s <= 10s + 10s");
    }

    /** Reads the FIFO once per writer: what it wrote, queued when it closed. */
    private static void readEveryOpening(Path fifo, BlockingQueue<String> seen) {
        while (!Thread.currentThread().isInterrupted()) {
            StringBuilder b = new StringBuilder();
            try (InputStream in = new FileInputStream(fifo.toFile())) {
                int c;
                while ((c = in.read()) >= 0) {
                    b.append((char) c);
                }
            } catch (IOException e) {
                return;
            }
            if (b.length() > 0) {
                seen.add(b.toString());
            }
        }
    }
}
