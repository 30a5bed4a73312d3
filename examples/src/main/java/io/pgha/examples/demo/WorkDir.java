package io.pgha.examples.demo;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The demo's work directory, {@code /tmp/pgha-demo-XXXXXX}: short, because PostgreSQL's unix socket path must fit
 * in 107 bytes, and in /tmp, because PostgreSQL (as the {@code postgres} user when the demo runs as root) must be
 * able to traverse every parent. It holds each member's data, config and log, and {@code demo.pid}, which lets a
 * later run recognise the directory of a demo that was killed before it could clean up.
 */
final class WorkDir {

    static final Path PARENT = Path.of("/tmp");
    static final String PREFIX = "pgha-demo-";
    private static final String PID_FILE = "demo.pid";
    private static final String ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789";

    private WorkDir() {}

    /**
     * Creates a fresh directory, mode 0711: PostgreSQL's user may pass through it to its own subdirectories, nobody
     * else may list it (the member files hold passwords and are 0600 besides).
     */
    static Path create() throws IOException {
        SecureRandom random = new SecureRandom();
        for (int attempt = 0; attempt < 20; attempt++) {
            StringBuilder name = new StringBuilder(PREFIX);
            for (int i = 0; i < 6; i++) {
                name.append(ALPHABET.charAt(random.nextInt(ALPHABET.length())));
            }
            Path dir = PARENT.resolve(name.toString());
            try {
                Files.createDirectory(dir);
            } catch (FileAlreadyExistsException e) {
                continue;
            }
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
            ProcessHandle me = ProcessHandle.current();
            Files.writeString(dir.resolve(PID_FILE), me.pid() + " " + me.info().startInstant().map(Instant::toString)
                    .orElse("-") + "\n", StandardCharsets.UTF_8);
            return dir;
        }
        throw new IOException("could not create a fresh " + PARENT + "/" + PREFIX + "* directory");
    }

    /** A member's subdirectory, passable (not listable) by PostgreSQL's user like the work directory itself. */
    static Path subdir(Path parent, String name) throws IOException {
        Path d = Files.createDirectories(parent.resolve(name));
        Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwx--x--x"));
        return d;
    }

    /**
     * Work directories of earlier runs whose demo process is gone (killed before its cleanup ran): their leftover
     * processes, found by the directory in their command line, are killed and the directories deleted. Returns what
     * was removed. Directories of runs still alive, and of other users, are left alone.
     */
    static List<String> sweepAbandoned() {
        List<String> removed = new ArrayList<>();
        boolean root = "0".equals(uid(Path.of("/proc/self")).orElse(""));
        String myUid = uid(Path.of("/proc/self")).orElse("?");
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(PARENT, PREFIX + "*")) {
            for (Path dir : dirs) {
                if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)
                        || !(root || uid(dir).filter(myUid::equals).isPresent())
                        || !abandoned(dir)) {
                    continue;
                }
                for (ProcessHandle p : ChildProcesses.mentioning(dir.toString())) {
                    ChildProcesses.killTree(p);
                }
                try {
                    delete(dir);
                    removed.add(dir.toString());
                } catch (IOException e) {
                    // someone else's business now; the next run tries again
                }
            }
        } catch (IOException e) {
            // /tmp unreadable: nothing to sweep
        }
        return removed;
    }

    private static boolean abandoned(Path dir) {
        String[] pidAndStart;
        try {
            pidAndStart = Files.readString(dir.resolve(PID_FILE), StandardCharsets.UTF_8).trim().split(" ");
        } catch (IOException e) {
            return false; // not written by a demo (or still being created): not ours to judge
        }
        try {
            Optional<ProcessHandle> p = ProcessHandle.of(Long.parseLong(pidAndStart[0]));
            if (p.isEmpty() || !p.get().isAlive()) {
                return true;
            }
            // The PID may have been reused by an unrelated process: the start time tells.
            String start = p.get().info().startInstant().map(Instant::toString).orElse("-");
            return pidAndStart.length > 1 && !pidAndStart[1].equals("-") && !pidAndStart[1].equals(start);
        } catch (NumberFormatException e) {
            return false;
        }
    }

    private static Optional<String> uid(Path p) {
        try {
            return Optional.of(Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS).toString());
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** Deletes {@code dir} and everything in it; symbolic links are removed, never followed. */
    static void delete(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                if (e instanceof NoSuchFileException) {
                    return FileVisitResult.CONTINUE; // a server removed it while we walked
                }
                throw e;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                if (e != null && !(e instanceof NoSuchFileException)) {
                    throw e;
                }
                Files.deleteIfExists(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
