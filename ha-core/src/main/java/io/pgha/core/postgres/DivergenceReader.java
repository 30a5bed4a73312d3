package io.pgha.core.postgres;

import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.TimelineHistory;
import io.pgha.core.config.PostgresSettings;
import io.pgha.core.spi.DivergenceCheck;
import io.pgha.core.spi.PostgresException;
import io.pgha.core.spi.Upstream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads both sides of the divergence check (docs/decisions/0104) for the pure {@link Divergence#compare}: this
 * node's timeline, WAL position and history (from SQL when it runs, from {@code pg_waldump} over its own WAL when it
 * is stopped), and the leader's over a replication connection. Whatever cannot be read makes the check UNKNOWN with
 * the reason; it never throws.
 */
final class DivergenceReader {

    /** Logs under the facade's name, so that logging configured for {@link LocalPostgres} covers it. */
    private static final Logger LOG = LoggerFactory.getLogger(LocalPostgres.class);

    private static final Pattern WAL_SEGMENT = Pattern.compile("[0-9A-F]{24}");
    private static final Pattern WALDUMP_LSN = Pattern.compile("lsn: ([0-9A-F]+/[0-9A-F]+),");

    private final PostgresSettings settings;
    private final Runner runner;
    private final DataDirectory dataDir;
    private final Postmaster postmaster;
    private final PgProbe probe;
    private final LocalSql sql;
    private final String prefix;

    DivergenceReader(PostgresSettings settings, Runner runner, DataDirectory dataDir, Postmaster postmaster,
            PgProbe probe, LocalSql sql, String prefix) {
        this.settings = settings;
        this.runner = runner;
        this.dataDir = dataDir;
        this.postmaster = postmaster;
        this.probe = probe;
        this.sql = sql;
        this.prefix = prefix;
    }

    DivergenceCheck check(Upstream leader) {
        try {
            // Mine first: read after the leader's, a streaming node could already be past the leader's reading.
            Divergence.Local me = localWal();
            if (me == null) {
                return DivergenceCheck.unknown("this node's WAL position cannot be read (see the log)");
            }
            Divergence.Leader theirs = leaderWal(leader);
            DivergenceCheck d = Divergence.compare(me, theirs);
            if (d.result() == DivergenceCheck.Result.NONE) {
                d = dropForeignHistories(me, theirs, d);
            }
            LOG.info("{}divergence check against {}: {} ({})", prefix, leader, d.result(), d.detail());
            return d;
        } catch (UnknownException e) {
            return DivergenceCheck.unknown(e.getMessage());
        } catch (PostgresException | RuntimeException e) {
            return DivergenceCheck.unknown("check against " + leader + " failed: " + e.getMessage());
        }
    }

    /**
     * A standby may hold the history file of a timeline it never replayed into and the leader's history does not
     * contain: a member promoted, this node fetched the new timeline's history while following it, and the member died
     * before anyone else followed (the e2e run of 2026-12-05: pg2 promoted onto 10 while being stopped, pg1 then
     * promoted from 9 onto 11). PostgreSQL's recovery, targeting the latest timeline, then insists on 10, which the
     * leader cannot serve ("requested timeline 10 is not in this server's history"), and the node never streams
     * again. Such a file forks from my timeline at or after my position (PostgreSQL refuses older forks by itself:
     * the placeholders of reserved numbers fork at 0/1) and holds no WAL of mine, so it is moved aside. A running
     * server has already chosen its recovery target: it must restart, which the follow rules do for DIVERGED.
     */
    private DivergenceCheck dropForeignHistories(Divergence.Local me, Divergence.Leader theirs, DivergenceCheck none)
            throws PostgresException {
        java.util.Set<Integer> lineage = new java.util.HashSet<>();
        lineage.add(theirs.timeline());
        theirs.history().forEach(e -> lineage.add(e.timeline()));
        List<Integer> moved = new ArrayList<>();
        Path wal = dataDir.historyFile(1).getParent();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(wal, "*.history")) {
            for (Path f : ds) {
                String name = f.getFileName().toString();
                int tl;
                try {
                    tl = Integer.parseInt(name.substring(0, name.length() - ".history".length()), 16);
                } catch (NumberFormatException e) {
                    continue;
                }
                if (tl <= me.timeline() || lineage.contains(tl)) {
                    continue;
                }
                TimelineHistory.Entry fork = Divergence.parseHistory(Files.readString(f)).stream()
                        .filter(e -> e.timeline() == me.timeline()).findFirst().orElse(null);
                if (fork == null || me.position().isAfter(fork.switchLsn())) {
                    continue;
                }
                Files.move(f, f.resolveSibling(name + ".pgha-foreign"),
                        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                moved.add(tl);
            }
        } catch (IOException | IllegalArgumentException e) {
            throw new PostgresException("check for history files of foreign timelines in " + wal + ": "
                    + e.getMessage(), e);
        }
        if (moved.isEmpty()) {
            return none;
        }
        String what = "moved aside the history of timeline(s) " + moved + ", not in the leader's history and never"
                + " replayed here (a promotion nobody followed)";
        LOG.warn("{}{}", prefix, what);
        return postmaster.pid() > 0
                ? DivergenceCheck.diverged(what + "; postgres must restart to leave it: " + none.detail())
                : DivergenceCheck.none(what + "; " + none.detail());
    }

    /** Thrown inside the divergence check for "cannot tell", with the reason. */
    private static final class UnknownException extends Exception {
        private static final long serialVersionUID = 1L;

        UnknownException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private Divergence.Local localWal() throws PostgresException, UnknownException {
        String problem = dataDir.problem();
        if (problem != null) {
            throw new UnknownException(problem.isEmpty() ? "no data directory" : problem, null);
        }
        long pid = postmaster.pid();
        if (pid > 0) {
            PgState s;
            try {
                s = probe.sqlProbe(pid);
            } catch (SQLException e) {
                throw new UnknownException("postgres runs (pid " + pid + ") but does not answer: " + e.getMessage(),
                        e);
            }
            if (s.walPosition() == null) {
                throw new UnknownException("the running server reports no WAL position", null);
            }
            return new Divergence.Local(s.systemId(), s.timeline(), s.walPosition(), false,
                    localHistory(s.timeline()), "running " + s.role().name().toLowerCase(java.util.Locale.ROOT));
        }
        ControlData cd = dataDir.controlData();
        // Segment names are fixed-width hex, timeline first: name order is timeline order, then WAL order.
        List<String> segments = walSegmentNames();
        int tl = Math.max(cd.timeline(),
                segments.isEmpty() ? 0 : Integer.parseInt(segments.get(segments.size() - 1).substring(0, 8), 16));
        List<TimelineHistory.Entry> history = localHistory(tl);
        Lsn start;
        if (cd.checkpointTimeline() == tl) {
            start = cd.checkpoint();
        } else if (!history.isEmpty() && history.get(history.size() - 1).timeline() == tl - 1) {
            start = history.get(history.size() - 1).switchLsn();
        } else if (cd.minRecoveryTimeline() == tl) {
            start = cd.minRecovery();
        } else {
            throw new UnknownException("cannot find where timeline " + tl + " starts in " + settings.dataDir(), null);
        }
        AtomicReference<String> last = new AtomicReference<>();
        // The start segment is named: without it pg_waldump learns the segment size from whichever WAL file the
        // directory lists first, and a zero-filled segment (preallocated, or opened by a WAL receiver that stopped
        // before writing) makes it fail, so a replica stopped at such a moment could never tell whether it diverged.
        // Named alone it would also end the dump with that segment, so the last segment file of the timeline is named
        // as the end (only its name counts; the dump stops at the first invalid record before it anyway).
        String startSegment = cd.walSegmentFile(tl, start);
        List<String> args = new ArrayList<>(List.of("-p", settings.dataDir().resolve("pg_wal").toString(), "-t",
                String.valueOf(tl), "-s", start.toString(), startSegment));
        String timelinePrefix = String.format("%08X", tl);
        segments.stream().filter(n -> n.startsWith(timelinePrefix) && n.compareTo(startSegment) > 0)
                .reduce((first, second) -> second).ifPresent(args::add);
        Runner.Result r = runner.run("read local WAL", settings.probeTimeout().multipliedBy(20), "pg_waldump",
                args, line -> {
                    Matcher m = WALDUMP_LSN.matcher(line);
                    if (m.find()) {
                        last.set(m.group(1));
                    }
                });
        if (last.get() == null) {
            throw new UnknownException("pg_waldump found no WAL record on timeline " + tl + " from " + start + ": "
                    + r.output(), null);
        }
        return new Divergence.Local(cd.systemId(), tl, Lsn.parse(last.get()), true, history,
                "stopped, control file '" + cd.state() + "', last WAL record");
    }

    /** The names of the WAL segment files in pg_wal, sorted; empty when it cannot be listed. */
    private List<String> walSegmentNames() {
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(settings.dataDir().resolve("pg_wal"))) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                if (WAL_SEGMENT.matcher(name).matches()) {
                    names.add(name);
                }
            }
        } catch (IOException e) {
            return List.of();
        }
        Collections.sort(names);
        return names;
    }

    private List<TimelineHistory.Entry> localHistory(int timeline) {
        if (timeline <= 1) {
            return List.of();
        }
        try {
            return Divergence.parseHistory(Files.readString(dataDir.historyFile(timeline)));
        } catch (IOException | IllegalArgumentException e) {
            return List.of();
        }
    }

    /** IDENTIFY_SYSTEM and TIMELINE_HISTORY over a replication connection to the leader. */
    private Divergence.Leader leaderWal(Upstream leader) throws UnknownException {
        try (Connection c = sql.connectReplication(leader.address().host(), leader.address().port(),
                settings.probeTimeout().plusSeconds(2));
                Statement st = c.createStatement()) {
            String sysid;
            int tl;
            Lsn pos;
            try (ResultSet rs = st.executeQuery("IDENTIFY_SYSTEM")) {
                rs.next();
                sysid = rs.getString(1);
                tl = rs.getInt(2);
                pos = Lsn.parse(rs.getString(3));
            }
            List<TimelineHistory.Entry> history = List.of();
            if (tl > 1) {
                try (ResultSet rs = st.executeQuery("TIMELINE_HISTORY " + tl)) {
                    rs.next();
                    String content = rs.getMetaData().getColumnType(2) == Types.BINARY
                            ? new String(rs.getBytes(2), StandardCharsets.UTF_8) : rs.getString(2);
                    history = Divergence.parseHistory(content);
                }
            }
            return new Divergence.Leader(sysid, tl, pos, history);
        } catch (SQLException | IllegalArgumentException e) {
            throw new UnknownException("cannot read the leader " + leader + "'s timeline: " + e.getMessage(), e);
        }
    }
}
