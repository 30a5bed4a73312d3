package io.pgha.core.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.UUID;
import java.util.stream.Stream;

/** File chores the tests that start real servers share. */
public final class TestFiles {

    private TestFiles() {}

    /**
     * A new directory {@code /tmp/<prefix>-<8 hex>}, readable by every user: short, because a PostgreSQL unix socket
     * path must stay under 107 bytes, and outside {@code /root}, which the {@code postgres} OS user cannot traverse.
     */
    public static Path shortTempDir(String prefix) throws IOException {
        Path dir = Path.of("/tmp", prefix + "-" + UUID.randomUUID().toString().substring(0, 8));
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        return dir;
    }

    /** The PostgreSQL bin directory: {@code -Dpgha.pg.bin}, else the newest {@code /usr/lib/postgresql/N/bin}. */
    public static Path postgresBinDir() {
        String prop = System.getProperty("pgha.pg.bin");
        if (prop != null) {
            return Path.of(prop);
        }
        try (Stream<Path> s = Files.list(Path.of("/usr/lib/postgresql"))) {
            return s.filter(p -> p.getFileName().toString().matches("\\d+"))
                    .max(Comparator.comparingInt(p -> Integer.parseInt(p.getFileName().toString())))
                    .map(p -> p.resolve("bin"))
                    .orElseThrow(() -> new IllegalStateException("no PostgreSQL under /usr/lib/postgresql: "
                            + "install postgresql-15 (.ci/run does) or set -Dpgha.pg.bin"));
        } catch (IOException e) {
            throw new IllegalStateException("no PostgreSQL under /usr/lib/postgresql: install postgresql-15 (.ci/run "
                    + "does) or set -Dpgha.pg.bin", e);
        }
    }

    /**
     * Removes {@code root} and everything below it, as far as it can; never throws. Cleanup after a test must not
     * hide the test's own failure, and whatever is left lives under {@code /tmp}, which the OS cleans.
     */
    public static void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    // Left for the OS's /tmp cleanup (see above).
                }
            });
        } catch (IOException e) {
            // The tree vanished while walking it, or cannot be listed: same.
        }
    }
}
