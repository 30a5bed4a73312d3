package io.pgha.core.internal.watchdog;

import io.pgha.core.config.Durations;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.WatchdogMode;
import io.pgha.core.internal.ha.Watchdog;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.regex.Pattern;

/**
 * A Linux watchdog device ({@code /dev/watchdog}, e.g. the {@code softdog} module or a hardware timer), driven
 * through the kernel's character-device interface: opening the device arms it, every write restarts its countdown,
 * and writing {@code 'V'} just before closing it disarms it ("magic close"). A device closed any other way, also by
 * the death of this process, keeps counting and resets the host.
 *
 * <p>Pure Java cannot issue the ioctl that sets the timeout, so the timeout is read from sysfs
 * ({@code /sys/class/watchdog/watchdogN/timeout}) and set by whoever loads the driver ({@code modprobe softdog
 * soft_margin=25}). A device with {@code nowayout} set is refused: it could not be disarmed when this member stops
 * leading, and the host would be reset for nothing.
 *
 * <p>Not thread-safe: the HA loop serializes the calls.
 */
public final class DeviceWatchdog implements Watchdog {

    private static final Path SYSFS = Path.of("/sys");
    private static final Pattern NUMBERED = Pattern.compile("watchdog[0-9]+");
    private static final int S_IFMT = 0170000;
    private static final int S_IFCHR = 0020000;

    /** The outcome of {@link #inspect}: a usable device, or why there is none (exactly one is null). */
    public record Inspection(DeviceWatchdog watchdog, String problem) {}

    /**
     * What a member starts with: the watchdog and the mode the HA loop runs it in ({@code OFF} with
     * {@link Watchdog#OFF} when there is none), and the warning to log once when an automatic one was dropped.
     */
    public record Selection(Watchdog watchdog, WatchdogMode mode, String warning) {}

    private final Path device;
    private final Path sysfsDir;
    private final Duration timeout;
    private final String identity;
    private FileChannel channel;

    private DeviceWatchdog(Path device, Path sysfsDir, Duration timeout, String identity) {
        this.device = device;
        this.sysfsDir = sysfsDir;
        this.timeout = timeout;
        this.identity = identity;
    }

    /**
     * The start-time check: {@code device} inspected, and the timing rule that needs no store (a timeout longer than
     * {@code loopWait + retryTimeout}; the other is checked once the store has granted a lease).
     *
     * @throws IllegalStateException for {@code REQUIRED} when the device is unusable, with the reason
     */
    public static Selection select(WatchdogMode mode, Path device, HaSettings settings) {
        return select(mode, device, settings, SYSFS, true);
    }

    static Selection select(WatchdogMode mode, Path device, HaSettings settings, Path sysfsRoot,
            boolean requireCharDevice) {
        if (mode == WatchdogMode.OFF) {
            return new Selection(Watchdog.OFF, WatchdogMode.OFF, null);
        }
        Inspection found = inspect(device, sysfsRoot, requireCharDevice);
        String problem = found.problem();
        if (problem == null) {
            DeviceWatchdog w = found.watchdog();
            problem = Watchdog.timingProblem(w.describe(), w.timeout(), settings, Duration.ZERO, null);
        }
        if (problem == null) {
            return new Selection(found.watchdog(), mode, null);
        }
        if (mode == WatchdogMode.REQUIRED) {
            throw new IllegalStateException("watchdog required, but " + problem);
        }
        return new Selection(Watchdog.OFF, WatchdogMode.OFF, "watchdog " + device + " not used: " + problem
                + "; running without it (automatic mode)");
    }

    /** Checks {@code device} without opening it (opening would arm it): present, writable, disarmable, its timeout. */
    public static Inspection inspect(Path device) {
        return inspect(device, SYSFS, true);
    }

    /**
     * {@link #inspect(Path)} against another sysfs root; tests stand a FIFO or a plain file in for the device, so they
     * may also waive the character-device check.
     */
    static Inspection inspect(Path device, Path sysfsRoot, boolean requireCharDevice) {
        if (!Files.exists(device)) {
            return refused("there is no watchdog device at " + device + " (load a driver, e.g. `modprobe softdog"
                    + " soft_margin=<seconds>`)");
        }
        if (requireCharDevice) {
            String notChar = notACharacterDevice(device);
            if (notChar != null) {
                return refused(notChar);
            }
        }
        if (!Files.isWritable(device)) {
            return refused(device + " is not writable by this process (user " + System.getProperty("user.name")
                    + ")");
        }
        Path real;
        try {
            real = device.toRealPath();
        } catch (IOException e) {
            return refused("cannot resolve " + device + ": " + e.getMessage());
        }
        String name = real.getFileName().toString();
        String entry = name.equals("watchdog") ? "watchdog0" : NUMBERED.matcher(name).matches() ? name : null;
        if (entry == null) {
            return refused("cannot tell which /sys/class/watchdog entry belongs to " + real
                    + " (name the device /dev/watchdog or /dev/watchdogN)");
        }
        Path dir = sysfsRoot.resolve("class").resolve("watchdog").resolve(entry);
        Duration timeout;
        try {
            timeout = readTimeout(dir, device);
        } catch (IOException e) {
            return refused(e.getMessage());
        }
        String nowayout;
        try {
            nowayout = read(dir.resolve("nowayout"));
        } catch (IOException e) {
            return refused("cannot tell whether " + device + " can be disarmed: " + e.getMessage());
        }
        if (!nowayout.equals("0")) {
            return refused(device + " has nowayout set (" + dir.resolve("nowayout") + " = " + nowayout + "): once"
                    + " armed it can never be disarmed, so the host would be reset whenever this member stops leading"
                    + " (load the driver with nowayout=0, e.g. `modprobe softdog nowayout=0`)");
        }
        String state = readIfPresent(dir.resolve("state"));
        if ("active".equals(state)) {
            return refused(device + " is already active (" + dir.resolve("state") + "): another process holds it,"
                    + " e.g. systemd's RuntimeWatchdogSec= or a watchdog daemon, or an earlier process left it counting"
                    + " down");
        }
        String identity = readIfPresent(dir.resolve("identity"));
        return new Inspection(new DeviceWatchdog(device, dir, timeout, identity == null ? "watchdog" : identity),
                null);
    }

    @Override
    public Duration timeout() {
        return timeout;
    }

    /** Opens (arms) the device on the first call after a disarm, then writes one byte, which restarts the countdown. */
    @Override
    public void keepalive() throws IOException {
        if (channel == null) {
            // The timeout may have been changed (another process's ioctl) since it was checked: the rules rest on it.
            Duration now = readTimeout(sysfsDir, device);
            if (!now.equals(timeout)) {
                throw new IOException("the timeout of " + device + " changed from " + Durations.format(timeout)
                        + " to " + Durations.format(now) + " since the start; not arming it");
            }
            channel = FileChannel.open(device, StandardOpenOption.WRITE);
        }
        write((byte) '.');
    }

    /** Magic close: {@code 'V'} as the last byte written, then close. Without it the device would keep counting. */
    @Override
    public void disarm() throws IOException {
        if (channel == null) {
            return;
        }
        try {
            write((byte) 'V');
        } finally {
            FileChannel c = channel;
            channel = null;
            c.close();
        }
    }

    @Override
    public String describe() {
        return device + " (" + identity + ")";
    }

    private void write(byte b) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(new byte[] {b});
        while (buf.hasRemaining()) {
            channel.write(buf);
        }
    }

    private static Inspection refused(String problem) {
        return new Inspection(null, problem);
    }

    private static String notACharacterDevice(Path device) {
        try {
            int mode = (Integer) Files.getAttribute(device, "unix:mode");
            return (mode & S_IFMT) == S_IFCHR ? null : device + " is not a character device";
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return "cannot tell whether " + device + " is a character device: " + e;
        }
    }

    private static Duration readTimeout(Path dir, Path device) throws IOException {
        Path file = dir.resolve("timeout");
        String text;
        try {
            text = read(file);
        } catch (IOException e) {
            throw new IOException("cannot read the timeout of " + device + " from " + file + " (the kernel publishes"
                    + " it with CONFIG_WATCHDOG_SYSFS): " + e.getMessage(), e);
        }
        try {
            long seconds = Long.parseLong(text);
            if (seconds <= 0) {
                throw new NumberFormatException("not positive");
            }
            return Duration.ofSeconds(seconds);
        } catch (NumberFormatException e) {
            throw new IOException("the timeout of " + device + " in " + file + " is not a positive number of seconds"
                    + " (got '" + text + "')", e);
        }
    }

    private static String read(Path file) throws IOException {
        try {
            return Files.readString(file, StandardCharsets.US_ASCII).trim();
        } catch (NoSuchFileException e) {
            throw new IOException(file + " does not exist", e);
        }
    }

    private static String readIfPresent(Path file) {
        try {
            return read(file);
        } catch (IOException e) {
            return null;
        }
    }
}
