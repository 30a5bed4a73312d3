package io.pgha.core.postgres;

import io.pgha.core.config.PostgresSettings;
import io.pgha.core.config.ServerParameters;
import io.pgha.core.spi.PostgresException;
import io.pgha.core.spi.Upstream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The files of one member: its directories (node directory, socket directory, data directory), what is in the data
 * directory, and the files pgha writes for the node.
 *
 * <p>This node's own settings (port, listen address, socket, hba file, data_directory) live in
 * {@code nodeDir/postgresql.conf}, outside the data directory, and the server is started with {@code --config-file}:
 * base backups and pg_rewind copy the data directory, so they can never carry another node's settings over
 * (docs/decisions/0102). {@code postgresql.auto.conf} and {@code standby.signal} in the data directory are rewritten
 * for this node after every clone or rewind and before every start.
 *
 * <p>Everything pgha creates is owned by the {@link OsUser} (the JVM may be root) and private to it (0700, 0600).
 */
final class DataDirectory {

    private static final Set<String> RECOVERY_KEYS =
            Set.of("primary_conninfo", "primary_slot_name", "recovery_target_timeline");
    private static final int LOG_TAIL_LINES = 25;

    private volatile PostgresSettings settings;
    private final OsUser user;
    private final Runner runner;
    private final int majorVersion;
    private final String versionText;
    /** The cluster-wide server parameters (the config key's postgresql.parameters); set by the HA loop. */
    private volatile Map<String, String> clusterParameters = Map.of();
    private volatile List<String> clusterHba = List.of();
    private volatile List<String> clusterIdent = List.of();

    DataDirectory(PostgresSettings settings, OsUser user, Runner runner, int majorVersion, String versionText) {
        this.settings = settings;
        this.user = user;
        this.runner = runner;
        this.majorVersion = majorVersion;
        this.versionText = versionText;
    }

    // ============================================================================================ the data directory

    /**
     * Null when the data directory is a usable one, "" when it is empty or missing, else what is wrong with it.
     *
     * @throws CannotTellException when the directory or its files cannot be read (an I/O error is not "empty" or
     *                             "invalid": a primary may be running from it)
     */
    String problem() {
        Path d = settings.dataDir();
        BasicFileAttributes attrs;
        try {
            attrs = Files.readAttributes(d, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            return "";
        } catch (IOException e) {
            throw new CannotTellException("dataDir " + d + " cannot be looked at", e);
        }
        if (!attrs.isDirectory()) {
            return "dataDir " + d + " is not a directory";
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(d)) {
            if (!ds.iterator().hasNext()) {
                return "";
            }
        } catch (IOException e) {
            throw new CannotTellException("dataDir " + d + " cannot be read", e);
        }
        Path pgVersion = d.resolve("PG_VERSION");
        String v;
        try {
            v = Files.readString(pgVersion).strip();
        } catch (NoSuchFileException e) {
            return "dataDir " + d + " is not empty but has no PG_VERSION: not a PostgreSQL data directory";
        } catch (IOException e) {
            throw new CannotTellException("dataDir " + d + ": cannot read PG_VERSION", e);
        }
        if (!v.equals(String.valueOf(majorVersion))) {
            return "dataDir " + d + " belongs to PostgreSQL " + v + " but binDir has PostgreSQL " + versionText;
        }
        try {
            Files.readAttributes(d.resolve("global/pg_control"), BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            return "dataDir " + d + " has no global/pg_control: an incomplete copy?";
        } catch (IOException e) {
            throw new CannotTellException("dataDir " + d + ": cannot look at global/pg_control", e);
        }
        return null;
    }

    void requireEmpty(String op) throws PostgresException {
        Path d = settings.dataDir();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(d)) {
            List<String> names = new ArrayList<>();
            for (Path p : ds) {
                names.add(p.getFileName().toString());
                if (names.size() >= 5) {
                    break;
                }
            }
            if (!names.isEmpty()) {
                throw new PostgresException(op + ": dataDir " + d + " is not empty (it holds " + String.join(", ", names)
                        + (names.size() >= 5 ? ", ..." : "") + "); pgha only creates a cluster in an empty directory"
                        + " and deletes nothing");
            }
        } catch (IOException e) {
            throw new PostgresException(op + ": cannot read dataDir " + d + ": " + e.getMessage(), e);
        }
    }

    void requireValid(String op) throws PostgresException {
        String problem = problem();
        if (problem != null) {
            throw new PostgresException(op + ": " + (problem.isEmpty()
                    ? "dataDir " + settings.dataDir() + " is empty: bootstrap or clone first" : problem));
        }
    }

    ControlData controlData() throws PostgresException {
        String out = runner.runOk("pg_controldata", Duration.ofSeconds(30), "pg_controldata",
                List.of(settings.dataDir().toString()));
        try {
            return ControlData.parse(out);
        } catch (IllegalArgumentException e) {
            throw new PostgresException("pg_controldata: unexpected output: " + e.getMessage(), e);
        }
    }

    Path historyFile(int timeline) {
        return settings.dataDir().resolve("pg_wal").resolve(String.format("%08X.history", timeline));
    }

    /**
     * PostgreSQL names a new timeline after the first number above the current one that has no history file. To
     * skip to {@code minTimeline}, write placeholder history files for the numbers in between. Each says the current
     * timeline forked at 0/1, before any replay position, so a standby that rescans for newer timelines refuses to
     * follow it ("forked off ... before current recovery point") instead of switching to it. The files stay: a
     * standby that follows this primary fetches the history file of every number between its timeline and ours.
     *
     * @return the placeholders written (numbers that already had a history file are left as they are)
     */
    List<Path> reserveTimelines(String op, int current, int minTimeline) throws PostgresException {
        String lineage;
        try {
            lineage = current == 1 ? "" : Files.readString(historyFile(current));
        } catch (IOException e) {
            throw new PostgresException(op + ": cannot read the history of timeline " + current + ": "
                    + e.getMessage(), e);
        }
        String placeholder = lineage + current + "\t0/1\tpgha: timeline number reserved by the cluster\n";
        List<Path> written = new ArrayList<>();
        for (int tl = current + 1; tl < minTimeline; tl++) {
            Path f = historyFile(tl);
            if (!Files.exists(f)) {
                writeOwned(f, placeholder);
                written.add(f);
            }
        }
        return written;
    }

    /** Deletes everything inside the data directory (not the directory: its owner and mode stay). */
    void clean(String op) throws PostgresException {
        cleanDirectory(op, settings.dataDir());
    }

    static void cleanDirectory(String op, Path d) throws PostgresException {
        if (!Files.isDirectory(d)) {
            return;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(d)) {
            for (Path p : ds) {
                deleteTree(p);
            }
        } catch (IOException e) {
            throw new PostgresException(op + ": cannot clean " + d + ": " + e.getMessage(), e);
        }
    }

    /** Deletes a tree without following symbolic links (a tablespace link is removed, not its target). */
    private static void deleteTree(Path root) throws IOException {
        if (Files.isSymbolicLink(root) || !Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS)) {
            Files.deleteIfExists(root);
            return;
        }
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                if (exc != null) {
                    throw exc;
                }
                Files.delete(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    // ============================================================================================ directories

    /**
     * Creates what is missing and checks what exists: nodeDir, socketDir and the data directory owned by the OS user
     * with mode 0700, every parent traversable by it. {@code createDataDir}: create the data directory too.
     */
    void prepareDirectories(String op, boolean createDataDir) throws PostgresException {
        try {
            ensureOwnedDir(settings.nodeDir());
            ensureOwnedDir(settings.socketDir());
            Path data = settings.dataDir();
            if (Files.exists(data)) {
                if (!Files.isDirectory(data)) {
                    throw new PostgresException(op + ": dataDir " + data + " exists but is not a directory");
                }
                String owner = Files.getOwner(data).getName();
                if (!owner.equals(user.name())) {
                    throw new PostgresException(op + ": dataDir " + data + " is owned by '" + owner + "', not by '"
                            + user.name() + "'" + (user.root() ? " (runAsUser)" : " (the JVM's user)")
                            + ": PostgreSQL refuses it. Change its owner or choose another dataDir");
                }
            } else if (createDataDir) {
                ensureOwnedDir(data);
            }
        } catch (IOException e) {
            throw new PostgresException(op + ": cannot prepare the directories: " + e, e);
        }
        if (user.root()) {
            requireAccess(op, settings.nodeDir(), "nodeDir");
            requireAccess(op, settings.socketDir(), "socketDir");
            if (Files.exists(settings.dataDir())) {
                requireAccess(op, settings.dataDir(), "dataDir");
            }
        }
    }

    private void ensureOwnedDir(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            Path parent = dir.getParent();
            if (parent != null && !Files.exists(parent)) {
                // Parents we make are root's (or ours) but traversable, like /var/lib.
                Files.createDirectories(parent);
            }
            Files.createDirectory(dir);
            chown(dir);
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        }
    }

    /** The OS user can reach and write {@code dir}: every parent traversable, the directory writable. */
    private void requireAccess(String op, Path dir, String setting) throws PostgresException {
        ProcessBuilder pb = runner.builder(List.of("test", "-w", dir.toString(), "-a", "-x", dir.toString()), false);
        try {
            Process p = pb.redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
            if (p.exitValue() != 0) {
                throw new PostgresException(op + ": OS user '" + user.name() + "' cannot write " + setting + " " + dir
                        + ": every parent directory must be traversable (x) by it and the directory writable"
                        + " (check e.g. a parent under /root, which is mode 0700)");
            }
        } catch (IOException e) {
            throw new PostgresException(op + ": cannot run 'test' as '" + user.name() + "' (" + e.getMessage()
                    + "); is setpriv (util-linux) installed?", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PostgresException(op + ": interrupted", e);
        }
    }

    /** pg_basebackup keeps the source's mode; PostgreSQL accepts 0700 or 0750 only. */
    private void fixDataDirMode() throws PostgresException {
        try {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(settings.dataDir());
            if (perms.contains(PosixFilePermission.OTHERS_READ) || perms.contains(PosixFilePermission.OTHERS_EXECUTE)
                    || perms.contains(PosixFilePermission.GROUP_WRITE) || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
                Files.setPosixFilePermissions(settings.dataDir(), PosixFilePermissions.fromString("rwx------"));
            }
        } catch (IOException e) {
            throw new PostgresException("cannot set the mode of dataDir " + settings.dataDir() + ": " + e, e);
        }
    }

    // ============================================================================================ node files

    /** Written before pg_rewind runs, removed once it completed: see {@code PgState.DataDir.REWIND_INCOMPLETE}. */
    Path rewindMarker() {
        return settings.nodeDir().resolve(REWIND_MARKER);
    }

    static final String REWIND_MARKER = "pgha-rewind-incomplete";

    /** What the rewind marker says (source and start time), or null when there is none. */
    String rewindIncomplete() {
        try {
            return Files.readString(rewindMarker()).strip();
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            throw new CannotTellException("cannot read " + rewindMarker(), e);
        }
    }

    void markRewindStarted(String what) throws PostgresException {
        writeOwned(rewindMarker(), what + "\n");
    }

    void clearRewindMarker() throws PostgresException {
        try {
            Files.deleteIfExists(rewindMarker());
        } catch (IOException e) {
            throw new PostgresException("cannot remove " + rewindMarker() + ": " + e, e);
        }
    }

    /** Refuses to start a data directory a pg_rewind left half rewritten. */
    void requireNoIncompleteRewind(String op) throws PostgresException {
        String marker = rewindIncomplete();
        if (marker != null) {
            throw new PostgresException(op + ": refused, a pg_rewind did not complete (" + marker + "; marker "
                    + rewindMarker() + "): the data directory may be half rewritten; re-clone it");
        }
    }

    Path configFile() {
        return settings.nodeDir().resolve("postgresql.conf");
    }

    Path passfile() {
        return settings.nodeDir().resolve("pgpass");
    }

    /** This node's config file, hba file, ident file and passfile; all rewritten before every start. */
    void writeNodeFiles() throws PostgresException {
        StringBuilder conf = new StringBuilder();
        conf.append("# Written by pgha for member ").append(settings.memberName())
                .append(" before every start: edits here are lost. Set parameters in pgha's settings.\n");
        Map<String, String> own = new LinkedHashMap<>();
        own.put("data_directory", settings.dataDir().toString());
        own.put("hba_file", settings.nodeDir().resolve("pg_hba.conf").toString());
        own.put("ident_file", settings.nodeDir().resolve("pg_ident.conf").toString());
        own.put("listen_addresses", settings.listenHost());
        own.put("port", String.valueOf(settings.listenPort()));
        own.put("unix_socket_directories", settings.socketDir().toString());
        own.put("hot_standby", "on");
        own.putAll(serverParameters().parameters());
        own.forEach((k, v) -> conf.append(k).append(" = ").append(ConfText.confQuote(v)).append('\n'));
        writeOwned(configFile(), conf.toString());
        writeOwned(settings.nodeDir().resolve("pg_hba.conf"), String.join("\n", hbaLines()) + "\n");
        List<String> ident = identLines();
        writeOwned(settings.nodeDir().resolve("pg_ident.conf"),
                ident.isEmpty() ? "" : String.join("\n", ident) + "\n");
        StringBuilder pass = new StringBuilder();
        Map<String, String> creds = new LinkedHashMap<>();
        creds.put(settings.replicationUser(), settings.replicationPassword());
        creds.put(settings.rewindUser(), settings.rewindPassword());
        creds.put(settings.superuser(), settings.superuserPassword());
        creds.forEach((u, pw) -> pass.append("*:*:*:").append(ConfText.passfileField(u)).append(':')
                .append(ConfText.passfileField(pw)).append('\n'));
        writeOwned(passfile(), pass.toString());
    }

    /** Uses these cluster-wide parameters from the next {@link #writeNodeFiles()} on. */
    void clusterParameters(Map<String, String> parameters) {
        clusterParameters = Map.copyOf(parameters);
    }

    /**
     * Uses these settings from the next write on: the member's own parameters, pg_hba and pg_ident as a reload
     * re-read them (every other field is the same, see {@code LocalPostgres.useMemberSettings}).
     */
    void useSettings(PostgresSettings next) {
        settings = next;
    }

    /** Uses these cluster-wide pg_hba and pg_ident lines (where the member has none) from the next write on. */
    void clusterAuthFiles(List<String> pgHba, List<String> pgIdent) {
        clusterHba = List.copyOf(pgHba);
        clusterIdent = List.copyOf(pgIdent);
    }

    /** The parameters the config file gets: defaults, cluster-wide, this member's own (see ServerParameters). */
    ServerParameters serverParameters() {
        return ServerParameters.of(settings, clusterParameters);
    }

    /** pg_hba.conf: the member's own lines, else the cluster's, else pgha's default (logins by password). */
    List<String> hbaLines() {
        if (!settings.pgHba().isEmpty()) {
            return settings.pgHba();
        }
        if (!clusterHba.isEmpty()) {
            return clusterHba;
        }
        List<String> l = new ArrayList<>();
        l.add("# Written by pgha: logins and replication with SCRAM passwords only.");
        l.add("local all all scram-sha-256");
        l.add("local replication all scram-sha-256");
        for (String net : List.of("127.0.0.1/32", "::1/128")) {
            l.add("host all all " + net + " scram-sha-256");
            l.add("host replication all " + net + " scram-sha-256");
        }
        for (String net : settings.hbaNetworks()) {
            l.add("host all all " + net + " scram-sha-256");
            l.add("host replication all " + net + " scram-sha-256");
        }
        return l;
    }

    /** pg_ident.conf: the member's own lines, else the cluster's, else none. */
    List<String> identLines() {
        return !settings.pgIdent().isEmpty() ? settings.pgIdent() : clusterIdent;
    }

    // ============================================================================================ role files

    /** Drops the recovery settings from auto.conf and the signal files: the next start is a primary's. */
    void configureAsPrimary() throws PostgresException {
        Map<String, String> auto = readAutoConf();
        auto.keySet().removeAll(RECOVERY_KEYS);
        writeAutoConf(auto);
        deleteQuietly(settings.dataDir().resolve("standby.signal"));
        deleteQuietly(settings.dataDir().resolve("recovery.signal"));
    }

    /**
     * This node's recovery settings in auto.conf plus standby.signal; {@code fresh} drops whatever was copied;
     * {@code slot} is the upstream's slot to stream through, or null for none.
     */
    void configureAsStandby(Upstream upstream, boolean fresh, String slot) throws PostgresException {
        Map<String, String> auto = fresh ? new LinkedHashMap<>() : readAutoConf();
        auto.keySet().removeAll(RECOVERY_KEYS);
        if (fresh) {
            // A copy carries the source's ALTER SYSTEM settings: the source's standby names mean nothing here.
            auto.clear();
        }
        if (upstream != null) {
            auto.put("primary_conninfo", primaryConninfo(upstream));
            if (slot != null) {
                auto.put("primary_slot_name", slot);
            }
        }
        auto.put("recovery_target_timeline", "latest");
        writeAutoConf(auto);
        writeOwned(settings.dataDir().resolve("standby.signal"), "");
        deleteQuietly(settings.dataDir().resolve("recovery.signal"));
        fixDataDirMode();
    }

    /** The conninfo a standby streams with: a passfile, never an inline password. */
    String primaryConninfo(Upstream upstream) {
        return "host=" + ConfText.conninfoValue(upstream.address().host()) + " port=" + upstream.address().port()
                + " user=" + ConfText.conninfoValue(settings.replicationUser()) + " passfile="
                + ConfText.conninfoValue(passfile().toString()) + " application_name="
                + ConfText.conninfoValue(settings.memberName()) + " connect_timeout="
                + Math.max(2, settings.probeTimeout().toSeconds()) + " keepalives=1";
    }

    /** The conninfo pg_basebackup clones with. */
    String basebackupConninfo(Upstream source) {
        return "host=" + ConfText.conninfoValue(source.address().host()) + " port="
                + source.address().port() + " user=" + ConfText.conninfoValue(settings.replicationUser())
                + " passfile=" + ConfText.conninfoValue(passfile().toString()) + " connect_timeout="
                + Math.max(2, settings.probeTimeout().toSeconds()) + " application_name="
                + ConfText.conninfoValue(settings.memberName());
    }

    /** The conninfo pg_rewind reads the source with, as the rewind user. */
    String rewindConninfo(Upstream source) {
        return "host=" + ConfText.conninfoValue(source.address().host()) + " port="
                + source.address().port() + " user=" + ConfText.conninfoValue(settings.rewindUser()) + " passfile="
                + ConfText.conninfoValue(passfile().toString()) + " dbname=postgres connect_timeout="
                + Math.max(2, settings.probeTimeout().toSeconds());
    }

    private Path autoConf() {
        return settings.dataDir().resolve("postgresql.auto.conf");
    }

    Map<String, String> readAutoConf() throws PostgresException {
        try {
            return Files.exists(autoConf()) ? ConfText.parseConf(Files.readString(autoConf())) : new LinkedHashMap<>();
        } catch (IOException e) {
            throw new PostgresException("cannot read " + autoConf() + ": " + e.getMessage(), e);
        }
    }

    private void writeAutoConf(Map<String, String> settingsMap) throws PostgresException {
        writeOwned(autoConf(), ConfText.formatConf(settingsMap));
    }

    // ============================================================================================ writing, the log

    /** Writes a file owned by the OS user with mode 0600, atomically (a temp file beside it, then a rename). */
    void writeOwned(Path file, String content) throws PostgresException {
        Path tmp = file.resolveSibling("." + file.getFileName() + ".pgha-tmp");
        try {
            Files.deleteIfExists(tmp);
            Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(tmp, content, StandardCharsets.UTF_8);
            chown(tmp);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            deleteQuietly(tmp);
            throw new PostgresException("cannot write " + file + ": " + e, e);
        }
    }

    private void chown(Path p) throws IOException {
        if (!user.root()) {
            return;
        }
        UserPrincipalLookupService lookup = p.getFileSystem().getUserPrincipalLookupService();
        UserPrincipal u = lookup.lookupPrincipalByName(user.name());
        GroupPrincipal g = lookup.lookupPrincipalByGroupName(user.group());
        Files.setOwner(p, u);
        Files.getFileAttributeView(p, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS).setGroup(g);
    }

    static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            // Best effort: a leftover temp or signal file is reported by the next operation that trips on it.
        }
    }

    /** The server log file in the node directory: the postmaster's stderr. */
    Path logFile() {
        return settings.nodeDir().resolve("postgresql.log");
    }

    void ensureLogFile() throws PostgresException {
        try {
            if (!Files.exists(logFile())) {
                Files.createFile(logFile(),
                        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
                chown(logFile());
            }
        } catch (IOException e) {
            throw new PostgresException("cannot create the log file " + logFile() + ": " + e, e);
        }
    }

    /** The last lines of the server log (the postmaster's stderr). */
    String logTail() {
        try {
            List<String> lines = Files.readAllLines(logFile(), StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - LOG_TAIL_LINES), lines.size()));
        } catch (IOException e) {
            return "(no log at " + logFile() + ": " + e.getMessage() + ")";
        }
    }
}
