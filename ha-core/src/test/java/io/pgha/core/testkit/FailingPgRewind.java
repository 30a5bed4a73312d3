package io.pgha.core.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.stream.Stream;

/**
 * A PostgreSQL bin directory for injecting "pg_rewind failed after changing the target's files": a link to each of
 * the real programs, except {@code pg_rewind}, a script that runs the real one and then, while a fault file exists,
 * exits 1 whatever it did. The caller sees exactly what a pg_rewind that died during or after its writes shows: a
 * non-zero exit after its output. The directory and script are readable by every user (PostgreSQL's programs run as
 * the {@code postgres} OS user).
 */
public final class FailingPgRewind {

    private FailingPgRewind() {}

    /** Makes {@code binDir} (missing parents too) from {@code realBin}; pg_rewind fails while {@code fault} exists. */
    public static Path binDir(Path binDir, Path realBin, Path fault) throws IOException {
        Files.createDirectories(binDir);
        Files.setPosixFilePermissions(binDir, PosixFilePermissions.fromString("rwxr-xr-x"));
        try (Stream<Path> programs = Files.list(realBin)) {
            for (Path p : programs.toList()) {
                if (!p.getFileName().toString().equals("pg_rewind")) {
                    Files.createSymbolicLink(binDir.resolve(p.getFileName()), p);
                }
            }
        }
        Path script = binDir.resolve("pg_rewind");
        Files.writeString(script, "#!/bin/sh\n"
                + "# test fault injector (io.pgha.core.testkit.FailingPgRewind): the real pg_rewind, then a failure\n"
                + "'" + realBin.resolve("pg_rewind") + "' \"$@\"\n"
                + "rc=$?\n"
                + "if [ -e '" + fault + "' ]; then\n"
                + "  echo \"test: pg_rewind exited with $rc; failing it on purpose\"\n"
                + "  exit 1\n"
                + "fi\n"
                + "exit $rc\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        return binDir;
    }

    /** Makes the pg_rewind of a directory made by {@link #binDir} fail from now on ({@code true}), or work again. */
    public static void failFromNowOn(Path fault, boolean fail) throws IOException {
        if (fail) {
            Files.writeString(fault, "fail\n");
            Files.setPosixFilePermissions(fault, PosixFilePermissions.fromString("rw-r--r--"));
        } else {
            Files.deleteIfExists(fault);
        }
    }
}
