package io.pgha.core.testkit;

import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.ReplicationRow;
import io.pgha.core.cluster.ReplicationSlot;
import io.pgha.core.cluster.Role;
import io.pgha.core.cluster.TimelineHistory;
import io.pgha.core.config.HostPort;
import io.pgha.core.spi.DivergenceCheck;
import io.pgha.core.spi.Postgres;
import io.pgha.core.spi.PostgresException;
import io.pgha.core.spi.StopMode;
import io.pgha.core.spi.Upstream;
import io.pgha.core.time.HaClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * <b>Test fake.</b> A model of one PostgreSQL instance for the simulation: a WAL made of numbered records (each
 * commit, checkpoint or promotion adds one), timelines with their switch points, a postmaster that can run, crash
 * and be fenced, standby configuration, and synchronous standby names. WAL moves between instances only through
 * {@link FakePostgresNetwork#tick()}, which also decides which commits are acknowledged.
 *
 * <p>It behaves like PostgreSQL where the HA logic depends on it: a replica refuses to stream from a server whose
 * history forked before its own position (different timeline), but on the same timeline number it cannot tell and
 * streams regardless — exactly the case rule S4 must prevent. Operations take (virtual) time, so other threads can
 * act in between, e.g. fence a server while it is starting.
 */
public final class FakePostgres implements Postgres {

    private Map<String, String> clusterParameters;
    private List<String> clusterHba;
    private Map<String, String> memberParameters;
    private List<String> clusterIdent;

    /** Bytes per WAL record: 128 records make the default 1 MB maximumLagOnFailover. */
    public static final long RECORD_BYTES = 8192;

    /** How long operations take (virtual time). */
    public record Timings(Duration start, Duration crashRecovery, Duration stop, Duration promote,
            Duration bootstrap, Duration baseBackup, Duration rewind, Duration peerTimeout) {
        public static final Timings DEFAULT = new Timings(Duration.ofMillis(200), Duration.ofMillis(800),
                Duration.ofMillis(100), Duration.ofMillis(150), Duration.ofMillis(600), Duration.ofMillis(1200),
                Duration.ofMillis(500), Duration.ofSeconds(2));
    }

    private final String name;
    private final HostPort address;
    private final FakePostgresNetwork net;
    private final HaClock clock;
    private final Timings timings;
    private final boolean allowReclone;
    /** The thread whose operations were cancelled ({@link #cancel}). */
    private volatile Thread cancelled;
    private final java.util.concurrent.atomic.AtomicInteger cancelledOperations =
            new java.util.concurrent.atomic.AtomicInteger();

    // "disk"
    private boolean initialized;
    private String systemId;
    private long[] wal = new long[0];
    private int walSize;
    private int timeline;
    private List<TimelineHistory.Entry> history = new ArrayList<>();
    private boolean standbySignal;
    private HostPort upstream;
    private String ssn = "";
    private boolean cleanShutdown = true;

    // "process"
    private PgState.Run run = PgState.Run.STOPPED;
    private boolean fenced;
    private Duration probeLatency = Duration.ZERO;
    private Duration fenceLatency = Duration.ZERO;
    private int replayPausedAt = -1;
    /** The server instance ({@link #generation}) a stop is shutting down; a crash or restart ends it. */
    private long stoppingGeneration = -1;
    private long generation;
    private boolean streaming;

    // test knobs
    private boolean failNextRewind;
    private boolean failNextRewindAfterChanges;
    private boolean rewindIncomplete;
    private boolean lieAboutDivergence;
    private boolean probesFail;
    private boolean failedProbeLooksInvalid;
    private boolean trustTimelineNumbers;
    private boolean ignoreMinTimeline;
    /** Persistent replication slots (pg_replslot): gone with a re-clone or a rewind, as on a real server. */
    private final Map<String, ReplicationSlot> slots = new java.util.TreeMap<>();
    private boolean slotCallsFail;
    private Duration slotCallLatency = Duration.ZERO;
    private int slotQueries;

    FakePostgres(String name, HostPort address, FakePostgresNetwork net, HaClock clock, Timings timings,
            boolean allowReclone) {
        this.name = name;
        this.address = address;
        this.net = net;
        this.clock = clock;
        this.timings = timings;
        this.allowReclone = allowReclone;
    }

    public String name() {
        return name;
    }

    public HostPort address() {
        return address;
    }

    // ------------------------------------------------------------------------------------------------ test knobs

    /** The next rewind fails (as pg_rewind does when, e.g., WAL it needs is gone). */
    public synchronized void failNextRewind() {
        failNextRewind = true;
    }

    /**
     * The next rewind fails after it changed files: the WAL is left part the source's, part its own, and the data
     * directory reports {@link PgState.DataDir#REWIND_INCOMPLETE} (as LocalPostgres' marker does) until a re-clone or
     * a completed rewind.
     */
    public synchronized void failNextRewindAfterChanges() {
        failNextRewindAfterChanges = true;
    }

    /**
     * Every probe fails (as LocalPostgres' does when the JVM runs out of file descriptors): it reports
     * {@link PgState.DataDir#UNKNOWN} while the server goes on as it is.
     */
    public synchronized void failProbes(boolean fail) {
        probesFail = fail;
    }

    /**
     * <b>Broken variant:</b> a failed probe reports an invalid data directory with no postmaster (what LocalPostgres
     * did before failed probes became "unknown"), while the server goes on accepting writes.
     */
    public synchronized void failedProbeLooksInvalid(boolean v) {
        failedProbeLooksInvalid = v;
    }

    /**
     * <b>Broken variant:</b> promotions take the next timeline number, ignoring the one announced, and the divergence
     * check takes equal timeline numbers for the same history (as PostgreSQL and Patroni do).
     */
    public synchronized void reuseTimelineNumbers(boolean v) {
        ignoreMinTimeline = v;
        trustTimelineNumbers = v;
    }

    /** <b>Broken variant:</b> the divergence check always answers "not diverged". */
    public synchronized void lieAboutDivergence(boolean lie) {
        lieAboutDivergence = lie;
    }

    /** kill -9 of the postmaster. */
    public synchronized void crash() {
        if (isUp()) {
            run = PgState.Run.CRASHED;
            cleanShutdown = false;
            generation++;
            streaming = false;
        }
    }

    /**
     * A client commit: appends record {@code id} when this is a writable primary.
     *
     * @return the record's index in the WAL, or -1 when the server does not accept writes
     */
    public synchronized int write(long id) {
        if (!isWritablePrimary()) {
            return -1;
        }
        return append(id);
    }

    public synchronized boolean isWritablePrimary() {
        return run == PgState.Run.RUNNING && !standbySignal && stoppingGeneration != generation;
    }

    public synchronized boolean isUp() {
        return run == PgState.Run.RUNNING || run == PgState.Run.STARTING;
    }

    public synchronized boolean isStreaming() {
        return streaming;
    }

    public synchronized boolean isReplicaRunning() {
        return run == PgState.Run.RUNNING && standbySignal;
    }

    public synchronized HostPort upstream() {
        return upstream;
    }

    public synchronized int timeline() {
        return timeline;
    }

    public synchronized int walSize() {
        return walSize;
    }

    public synchronized long record(int index) {
        return wal[index];
    }

    public synchronized boolean contains(long id) {
        for (int i = 0; i < walSize; i++) {
            if (wal[i] == id) {
                return true;
            }
        }
        return false;
    }

    public synchronized String ssn() {
        return ssn;
    }

    public synchronized String systemId() {
        return systemId;
    }

    synchronized long[] walCopy() {
        return Arrays.copyOf(wal, walSize);
    }

    synchronized List<TimelineHistory.Entry> historyCopy() {
        return List.copyOf(history);
    }

    synchronized void setStreaming(boolean s) {
        streaming = s;
    }

    /** Replication: adopt the upstream's timeline and append its records from our end on. */
    void receive(FakePostgres up, int maxRecords) {
        long[] chunk;
        int tl;
        List<TimelineHistory.Entry> h;
        synchronized (up) {
            int from;
            synchronized (this) {
                from = walSize;
            }
            int end = (int) Math.min(up.walSize, (long) from + maxRecords);
            chunk = end > from ? Arrays.copyOfRange(up.wal, from, end) : new long[0];
            tl = up.timeline;
            h = up.history;
        }
        synchronized (this) {
            for (long id : chunk) {
                append(id);
            }
            // Like PostgreSQL, a standby is on timeline N+1 only once it replayed past N's switch point.
            Lsn end = lsnOf(walSize);
            List<TimelineHistory.Entry> before = new ArrayList<>();
            int now = tl;
            for (TimelineHistory.Entry e : h) {
                if (!end.isAfter(e.switchLsn())) {
                    now = e.timeline();
                    break;
                }
                before.add(e);
            }
            timeline = now;
            history = before;
        }
    }

    /** Records {@code [from, to)} of the WAL. */
    synchronized long[] range(int from, int to) {
        return Arrays.copyOfRange(wal, from, Math.min(to, walSize));
    }

    private int append(long id) {
        if (walSize == wal.length) {
            wal = Arrays.copyOf(wal, Math.max(64, wal.length * 2));
        }
        wal[walSize] = id;
        return walSize++;
    }

    static Lsn lsnOf(int records) {
        return Lsn.of(0x1000000L + records * RECORD_BYTES);
    }

    // ------------------------------------------------------------------------------------------------ Postgres port

    /** Every probe takes {@code latency} before it answers (a loaded host, the pg_controldata fallback). */
    public synchronized void slowProbes(Duration latency) {
        probeLatency = latency;
    }

    /** How long a probe takes now. */
    public synchronized Duration probeLatency() {
        return probeLatency;
    }

    /**
     * WAL replay is paused ({@code pg_wal_replay_pause()}) or resumed: a paused replica goes on receiving, but its
     * replayed position stays where it was paused.
     */
    public synchronized void pauseReplay(boolean paused) {
        replayPausedAt = paused ? walSize : -1;
    }

    @Override
    public PgState probe() {
        Duration latency;
        synchronized (this) {
            latency = probeLatency;
        }
        if (!latency.isZero()) {
            sleep(latency);
        }
        return probeNow();
    }

    /** What a probe finds, without its latency (what the REST API of the member answers from, in the simulation). */
    public synchronized PgState probeNow() {
        if (probesFail) {
            String why = "probe failed: java.io.IOException: Too many open files (injected)";
            return failedProbeLooksInvalid ? new PgState(PgState.DataDir.INVALID, PgState.Run.STOPPED, Role.UNKNOWN,
                    null, 0, null, null, null, null, false, List.of(), "", false, why) : PgState.unknown(why);
        }
        if (!initialized) {
            return PgState.empty();
        }
        Role role = standbySignal ? Role.REPLICA : Role.PRIMARY;
        boolean replica = role == Role.REPLICA;
        Lsn pos = lsnOf(walSize);
        List<ReplicationRow> rows = run == PgState.Run.RUNNING && !replica ? net.replicationRows(this) : List.of();
        boolean paused = replica && replayPausedAt >= 0 && run == PgState.Run.RUNNING;
        Lsn replayed = paused ? lsnOf(Math.min(replayPausedAt, walSize)) : pos;
        return new PgState(rewindIncomplete ? PgState.DataDir.REWIND_INCOMPLETE : PgState.DataDir.VALID, run, role,
                systemId, timeline, paused ? replayed : pos, replica ? pos : null, replica ? replayed : null,
                replica ? upstream : null, replica && streaming && run == PgState.Run.RUNNING, rows, ssn, false,
                rewindIncomplete ? "a pg_rewind did not complete" : "", paused);
    }

    @Override
    public void bootstrap() throws PostgresException {
        synchronized (this) {
            if (initialized) {
                throw new PostgresException("bootstrap: data directory of " + name + " is not empty");
            }
        }
        sleep(timings.bootstrap());
        long gen;
        synchronized (this) {
            initialized = true;
            systemId = net.newSystemId();
            timeline = 1;
            history = new ArrayList<>();
            walSize = 0;
            append(net.newRecordId());
            standbySignal = false;
            upstream = null;
            cleanShutdown = true;
            if (fenced) {
                throw new PostgresException("bootstrap: fenced, not starting as primary");
            }
            run = PgState.Run.RUNNING;
            gen = ++generation;
        }
        net.started(this, gen);
        // Like LocalPostgres, the new primary runs while the roles are created, before the member may take the lock
        // (seconds on a real machine: longer than a short loopWait).
        sleep(timings.bootstrap().multipliedBy(3));
        synchronized (this) {
            if (generation != gen || run != PgState.Run.RUNNING) {
                throw new PostgresException("bootstrap: the new primary went down while creating roles");
            }
        }
    }

    @Override
    public void createReplica(Upstream source) throws PostgresException {
        synchronized (this) {
            if (initialized) {
                throw new PostgresException("create replica: data directory of " + name + " is not empty");
            }
        }
        FakePostgres src = reachable(source, "create replica");
        sleepUnlessCancelled(timings.baseBackup(), "create replica");
        src = reachable(source, "create replica");
        synchronized (src) {
            if (!src.isUp()) {
                throw new PostgresException("create replica: " + source + " stopped during the base backup");
            }
        }
        long[] copy = src.walCopy();
        int tl = src.timeline();
        List<TimelineHistory.Entry> h = src.historyCopy();
        String sysid = src.systemId();
        synchronized (this) {
            initialized = true;
            systemId = sysid;
            wal = copy.length == 0 ? new long[0] : copy;
            walSize = copy.length;
            timeline = tl;
            history = new ArrayList<>(h);
            standbySignal = true;
            upstream = source.address();
            cleanShutdown = true;
            run = PgState.Run.STOPPED;
        }
    }

    @Override
    public void startPrimary() throws PostgresException {
        start(false, null);
    }

    @Override
    public void startReplica(Upstream up) throws PostgresException {
        start(true, up == null ? null : up.address());
    }

    private void start(boolean asReplica, HostPort up) throws PostgresException {
        long gen;
        Duration took;
        if (cancelled == Thread.currentThread()) {
            throw new PostgresException("start: cancelled");
        }
        synchronized (this) {
            if (!initialized) {
                throw new PostgresException("start: no data directory");
            }
            if (isUp()) {
                throw new PostgresException("start: already running");
            }
            if (rewindIncomplete) {
                throw new PostgresException("start: refused, a pg_rewind did not complete");
            }
            if (!asReplica && fenced) {
                throw new PostgresException("start: fenced, not starting as primary");
            }
            standbySignal = asReplica;
            upstream = asReplica ? up : null;
            run = PgState.Run.STARTING;
            streaming = false;
            gen = ++generation;
            took = cleanShutdown ? timings.start() : timings.start().plus(timings.crashRecovery());
        }
        sleepUnlessCancelled(took, "start");
        synchronized (this) {
            if (generation != gen) {
                throw new PostgresException("start: the postmaster was stopped while starting");
            }
            if (!asReplica && fenced) {
                run = PgState.Run.CRASHED;
                generation++;
                throw new PostgresException("start: fenced while starting");
            }
            run = PgState.Run.RUNNING;
            cleanShutdown = false; // running: a crash from here on is unclean
        }
        net.started(this, gen);
    }

    @Override
    public void stop(StopMode mode) throws PostgresException {
        long gen;
        synchronized (this) {
            if (!isUp()) {
                return;
            }
            gen = generation;
            stoppingGeneration = gen;
        }
        sleep(mode == StopMode.IMMEDIATE ? Duration.ofMillis(10) : timings.stop());
        synchronized (this) {
            // A host crash can end the agent's thread inside the sleep above, so the flag must not outlive the
            // server instance it was for.
            if (stoppingGeneration == gen) {
                stoppingGeneration = -1;
            }
            if (generation != gen || !isUp()) {
                return; // crashed or fenced meanwhile: it is down either way
            }
            generation++;
            streaming = false;
            if (mode == StopMode.IMMEDIATE) {
                run = PgState.Run.CRASHED;
                cleanShutdown = false;
                return;
            }
            if (!standbySignal) {
                append(net.newRecordId()); // shutdown checkpoint
            }
            run = PgState.Run.STOPPED;
            cleanShutdown = true;
        }
        // A primary's walsenders send everything, the shutdown checkpoint included, before it exits.
        net.flushToStandbys(this);
    }

    @Override
    public void promote(int minTimeline) throws PostgresException {
        long gen;
        synchronized (this) {
            if (fenced) {
                throw new PostgresException("promote: fenced");
            }
            if (run != PgState.Run.RUNNING || !standbySignal) {
                throw new PostgresException("promote: not a running standby");
            }
            gen = generation;
        }
        sleep(timings.promote());
        synchronized (this) {
            if (generation != gen || run != PgState.Run.RUNNING) {
                throw new PostgresException("promote: the server went down while promoting");
            }
            if (fenced) {
                throw new PostgresException("promote: fenced while promoting");
            }
            history.add(new TimelineHistory.Entry(timeline, lsnOf(walSize), "no recovery target specified", null,
                    null));
            timeline = ignoreMinTimeline ? timeline + 1 : Math.max(timeline + 1, minTimeline);
            append(net.newRecordId()); // end-of-recovery checkpoint on the new timeline
            standbySignal = false;
            upstream = null;
            streaming = false;
        }
        net.promoted(this);
    }

    @Override
    public void follow(Upstream up) throws PostgresException {
        synchronized (this) {
            if (run != PgState.Run.RUNNING || !standbySignal) {
                throw new PostgresException("follow: not a running standby");
            }
            upstream = up.address();
            streaming = false;
        }
        sleep(Duration.ofMillis(20));
    }

    @Override
    public DivergenceCheck checkDivergence(Upstream leader) {
        FakePostgres l;
        try {
            l = reachable(leader, "check divergence");
        } catch (PostgresException e) {
            return DivergenceCheck.unknown(e.getMessage());
        }
        int lTl = l.timeline();
        List<TimelineHistory.Entry> lHist = l.historyCopy();
        String lSys = l.systemId();
        synchronized (this) {
            if (lieAboutDivergence) {
                return DivergenceCheck.none("(broken variant: not checked)");
            }
            if (!initialized) {
                return DivergenceCheck.unknown("no local data");
            }
            if (!systemId.equals(lSys)) {
                return DivergenceCheck.unknown("the leader belongs to another cluster (" + lSys + ")");
            }
            if (timeline > lTl) {
                return DivergenceCheck.diverged("my timeline " + timeline + " is ahead of the leader's " + lTl);
            }
            if (timeline == lTl) {
                // Equal numbers are the same timeline only if they forked from the same place.
                if (!switchPoints(history).equals(switchPoints(lHist)) && !trustTimelineNumbers) {
                    return DivergenceCheck.forkedOnSameTimeline("timeline " + timeline + " here forked from "
                            + switchPoints(history) + ", the leader's from " + switchPoints(lHist));
                }
                return DivergenceCheck.none("same timeline " + timeline);
            }
            for (TimelineHistory.Entry e : lHist) {
                if (e.timeline() == timeline) {
                    Lsn mine = lsnOf(walSize);
                    return mine.isAfter(e.switchLsn())
                            ? DivergenceCheck.diverged("timeline " + timeline + " forked at " + e.switchLsn()
                                    + " but I am at " + mine)
                            : DivergenceCheck.none("timeline " + timeline + " forked at " + e.switchLsn()
                                    + ", I am at " + mine);
                }
            }
            return DivergenceCheck.diverged("timeline " + timeline + " is not in the leader's history");
        }
    }

    private static List<String> switchPoints(List<TimelineHistory.Entry> h) {
        return h.stream().map(e -> e.timeline() + "@" + e.switchLsn()).toList();
    }

    @Override
    public void rewind(Upstream source) throws PostgresException {
        synchronized (this) {
            if (isUp()) {
                throw new PostgresException("rewind: target must be stopped");
            }
            if (failNextRewind) {
                failNextRewind = false;
                throw new PostgresException("rewind: pg_rewind failed (injected)");
            }
        }
        FakePostgres src = reachable(source, "rewind");
        sleep(timings.rewind());
        src = reachable(source, "rewind");
        if (!src.systemId().equals(systemId())) {
            throw new PostgresException("rewind: source belongs to another cluster");
        }
        if (src.timeline() == timeline()) {
            // As pg_rewind: the same timeline number on both sides means "no rewind required", whatever the
            // histories say; the data is left as it was.
            synchronized (this) {
                standbySignal = true;
                upstream = source.address();
            }
            return;
        }
        long[] copy = src.walCopy();
        int tl = src.timeline();
        List<TimelineHistory.Entry> h = src.historyCopy();
        synchronized (this) {
            if (isUp()) {
                throw new PostgresException("rewind: target was started during the rewind");
            }
            if (failNextRewindAfterChanges) {
                // Half the source's WAL over our own: a history that exists nowhere else.
                failNextRewindAfterChanges = false;
                rewindIncomplete = true;
                int keep = Math.min(walSize, copy.length / 2);
                long[] mixed = Arrays.copyOf(copy, Math.max(keep + 1, walSize));
                System.arraycopy(wal, keep, mixed, keep, Math.max(0, Math.min(walSize, mixed.length) - keep));
                wal = mixed;
                walSize = mixed.length;
                timeline = tl;
                history = new ArrayList<>(h);
                throw new PostgresException("rewind: pg_rewind failed after changing files (injected)");
            }
            rewindIncomplete = false;
            slots.clear();
            wal = copy;
            walSize = copy.length;
            timeline = tl;
            history = new ArrayList<>(h);
            standbySignal = true;
            upstream = source.address();
            cleanShutdown = true;
        }
    }

    @Override
    public void reclone(Upstream source) throws PostgresException {
        if (!allowReclone) {
            throw new PostgresException("re-clone refused: removing the data directory is not allowed");
        }
        synchronized (this) {
            if (isUp()) {
                throw new PostgresException("re-clone: target must be stopped");
            }
            initialized = false;
            rewindIncomplete = false;
            slots.clear();
            walSize = 0;
            wal = new long[0];
            history = new ArrayList<>();
            timeline = 0;
            systemId = null;
        }
        createReplica(source);
    }

    @Override
    public synchronized void setSynchronousStandbyNames(String value) throws PostgresException {
        if (!initialized) {
            throw new PostgresException("synchronous_standby_names: no data directory");
        }
        ssn = value == null ? "" : value;
    }

    // ------------------------------------------------------------------------------------------------ slots

    /** Fault: every slot call fails (a server that refuses them, a broken slot directory). */
    public synchronized void failSlotCalls(boolean fail) {
        slotCallsFail = fail;
    }

    /** Fault: every slot call takes {@code latency} before it answers (a loaded host, a hung backend). */
    public synchronized void slowSlotCalls(Duration latency) {
        slotCallLatency = latency;
    }

    /** How many times the slots were listed (the leader should list them once per cycle, no more). */
    public synchronized int slotQueries() {
        return slotQueries;
    }

    private void slotCall(String what) throws PostgresException {
        Duration latency;
        synchronized (this) {
            latency = slotCallLatency;
        }
        if (!latency.isZero()) {
            sleep(latency);
        }
        synchronized (this) {
            if (slotCallsFail) {
                throw new PostgresException(what + ": failed (injected)");
            }
            if (run != PgState.Run.RUNNING) {
                throw new PostgresException(what + ": postgres is not running");
            }
        }
    }

    @Override
    public List<ReplicationSlot> replicationSlots() throws PostgresException {
        slotCall("list replication slots");
        synchronized (this) {
            slotQueries++;
            return List.copyOf(slots.values());
        }
    }

    @Override
    public void createPhysicalSlot(String slot) throws PostgresException {
        slotCall("create replication slot " + slot);
        synchronized (this) {
            slots.putIfAbsent(slot, ReplicationSlot.physical(slot, false, lsnOf(walSize)));
        }
    }

    @Override
    public void dropSlot(String slot) throws PostgresException {
        slotCall("drop replication slot " + slot);
        synchronized (this) {
            slots.remove(slot);
        }
    }

    /** The slots there are now, by name (what a test looks at, bypassing faults). */
    public synchronized java.util.Set<String> slotNames() {
        return java.util.Set.copyOf(slots.keySet());
    }

    /** Puts a slot there as an operator or another tool would (a test's setup). */
    public synchronized void addSlot(ReplicationSlot slot) {
        slots.put(slot.name(), slot);
    }

    /**
     * Records the cluster-wide parameters the HA loop handed over (a fake applies no parameters); a change reaching a
     * running server counts as a reload, as in {@code LocalPostgres}.
     */
    @Override
    public synchronized boolean useClusterParameters(Map<String, String> parameters) {
        boolean changed = clusterParameters != null && !clusterParameters.equals(parameters);
        clusterParameters = Map.copyOf(parameters);
        return changed && run == PgState.Run.RUNNING;
    }

    /** Records the cluster-wide pg_hba and pg_ident lines, as {@link #useClusterParameters} does parameters. */
    @Override
    public synchronized boolean useClusterAuthFiles(List<String> pgHba, List<String> pgIdent) {
        boolean changed = clusterHba != null && (!clusterHba.equals(pgHba) || !clusterIdent.equals(pgIdent));
        clusterHba = List.copyOf(pgHba);
        clusterIdent = List.copyOf(pgIdent);
        return changed && run == PgState.Run.RUNNING;
    }

    /** Records the member's own settings a reload re-read (a fake applies none); a parameter named "bad" is refused. */
    @Override
    public synchronized void useMemberSettings(Map<String, String> parameters, List<String> pgHba,
            List<String> pgIdent) {
        if (parameters.containsKey("bad")) {
            throw new IllegalArgumentException("postgresql: parameters: bad is refused by the fake");
        }
        memberParameters = Map.copyOf(parameters);
    }

    /** The member's own parameters a reload last handed over; null when none did. */
    public synchronized Map<String, String> memberParameters() {
        return memberParameters;
    }

    /** The cluster-wide pg_hba lines last handed over; null when none were. */
    public synchronized List<String> clusterHba() {
        return clusterHba;
    }

    /** The cluster-wide pg_ident lines last handed over; null when none were. */
    public synchronized List<String> clusterIdent() {
        return clusterIdent;
    }

    /** Re-reads the configuration (the fake has none to read); a stopped server cannot, as with {@code pg_ctl reload}. */
    @Override
    public synchronized void reload() throws PostgresException {
        if (run != PgState.Run.RUNNING) {
            throw new PostgresException("reload: not running");
        }
    }

    /** The cluster-wide parameters last handed over; null when none were. */
    public synchronized Map<String, String> clusterParameters() {
        return clusterParameters;
    }

    @Override
    public void checkpoint() throws PostgresException {
        synchronized (this) {
            if (run != PgState.Run.RUNNING) {
                throw new PostgresException("checkpoint: not running");
            }
        }
        sleep(Duration.ofMillis(20));
    }

    @Override
    public synchronized List<TimelineHistory.Entry> timelineHistory() {
        return List.copyOf(history);
    }

    @Override
    public void fence() {
        long gen;
        Duration latency;
        synchronized (this) {
            // Writable starts are refused at once; the running server goes only when the signal has done its work.
            fenced = true;
            gen = generation;
            latency = fenceLatency;
        }
        if (!latency.isZero()) {
            sleep(latency);
        }
        synchronized (this) {
            if (generation == gen && isUp()) {
                run = PgState.Run.CRASHED;
                cleanShutdown = false;
                generation++;
                streaming = false;
            }
        }
    }

    /**
     * Each fence takes {@code latency} from the call until the postmaster is gone, during which the server still
     * accepts writes (LocalPostgres: SIGQUIT, and SIGKILL 300 ms later if the first signal did not end it).
     */
    public synchronized void fenceLatency(Duration latency) {
        fenceLatency = latency;
    }

    @Override
    public synchronized void unfence() {
        fenced = false;
    }

    @Override
    public synchronized boolean unfenceIf(java.util.function.BooleanSupplier stillAllowed) {
        if (!stillAllowed.getAsBoolean()) {
            return false;
        }
        fenced = false;
        return true;
    }

    public synchronized boolean isFenced() {
        return fenced;
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private FakePostgres reachable(Upstream u, String what) throws PostgresException {
        FakePostgres other = net.connect(this, u.address());
        if (other == null) {
            sleep(timings.peerTimeout());
            throw new PostgresException(what + ": cannot connect to " + u);
        }
        return other;
    }

    /**
     * Like LocalPostgres: the worker's clone or start ends at once with a failure, as does any later operation it
     * starts, and the server (starting or running) goes down as after an immediate shutdown.
     */
    @Override
    public boolean cancel(Thread worker) {
        cancelled = worker;
        crash();
        return true;
    }

    /** How many operations were cut short by {@link #cancel}. */
    public int cancelledOperations() {
        return cancelledOperations.get();
    }

    /** {@link #sleep} in steps, ending early with a failure when the calling thread's operations were cancelled. */
    private void sleepUnlessCancelled(Duration d, String op) throws PostgresException {
        long end = clock.nanoTime() + d.toNanos();
        while (true) {
            if (cancelled == Thread.currentThread()) {
                cancelledOperations.incrementAndGet();
                throw new PostgresException(op + ": cancelled");
            }
            long left = end - clock.nanoTime();
            if (left <= 0) {
                return;
            }
            sleep(Duration.ofNanos(Math.min(left, Duration.ofMillis(100).toNanos())));
        }
    }

    private void sleep(Duration d) {
        try {
            clock.sleep(d.toNanos());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return name + "[" + run + (standbySignal ? " replica" : " primary") + " tl" + timeline + " wal" + walSize
                + (fenced ? " fenced" : "") + "]";
    }
}
