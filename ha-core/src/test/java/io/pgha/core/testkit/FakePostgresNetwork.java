package io.pgha.core.testkit;

import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.ReplicationRow;
import io.pgha.core.cluster.TimelineHistory;
import io.pgha.core.config.HostPort;
import io.pgha.core.time.HaClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * <b>Test fake.</b> The network between {@link FakePostgres} instances: who can reach whom, WAL streaming from each
 * standby's upstream, and commit acknowledgement (synchronous standby names). The simulation calls {@link #tick()}
 * often; each tick moves a bounded number of records per standby, so a standby can fall behind.
 */
public final class FakePostgresNetwork {

    /** A client commit on a primary, acknowledged or not yet. */
    public static final class Commit {
        public final long id;
        public final String primary;
        public final int index;
        public long ackedAt = -1;
        public boolean underSyncMode;

        Commit(long id, String primary, int index) {
            this.id = id;
            this.primary = primary;
            this.index = index;
        }
    }

    /** What the network saw that breaks a safety rule (reported to the simulation's checker). */
    public interface Listener {
        /** A standby started streaming from an upstream whose history does not contain its own WAL (S4). */
        default void divergedStream(FakePostgres standby, FakePostgres upstream, String detail) {}

        /** A standby was promoted. */
        default void promoted(FakePostgres p) {}

        /** A commit was acknowledged to the client. */
        default void acknowledged(Commit c) {}
    }

    private final HaClock clock;
    private final Random random;
    private final Map<HostPort, FakePostgres> byAddress = new LinkedHashMap<>();
    /** The ids of every client commit written to any primary. */
    private final java.util.Set<Long> clientWrites = new java.util.HashSet<>();
    private final Map<String, FakePostgres> byName = new LinkedHashMap<>();
    private final Set<String> cutLinks = new HashSet<>();
    private final Map<String, HostPort> connectedTo = new LinkedHashMap<>();
    private final Map<String, Integer> bandwidth = new LinkedHashMap<>();
    private final List<Commit> pending = new ArrayList<>();
    private long nextRecord = 1_000_000;
    private long nextSystemId = 7_300_000_000_000_000_000L;
    private Listener listener = new Listener() {};
    private int defaultBandwidth = 64;

    public FakePostgresNetwork(HaClock clock, long seed) {
        this.clock = clock;
        this.random = new Random(seed);
    }

    public void setListener(Listener l) {
        listener = l;
    }

    public FakePostgres create(String name, HostPort address, FakePostgres.Timings timings, boolean allowReclone) {
        FakePostgres p = new FakePostgres(name, address, this, clock, timings, allowReclone);
        byAddress.put(address, p);
        byName.put(name, p);
        return p;
    }

    public FakePostgres get(String name) {
        return byName.get(name);
    }

    public List<FakePostgres> all() {
        return List.copyOf(byName.values());
    }

    // ------------------------------------------------------------------------------------------------ links

    /** Cuts or heals the link between two members (both directions). */
    public synchronized void cut(String a, String b, boolean cut) {
        String k = a.compareTo(b) < 0 ? a + "|" + b : b + "|" + a;
        if (cut) {
            cutLinks.add(k);
        } else {
            cutLinks.remove(k);
        }
    }

    public synchronized boolean linked(String a, String b) {
        if (a.equals(b)) {
            return true;
        }
        return !cutLinks.contains(a.compareTo(b) < 0 ? a + "|" + b : b + "|" + a);
    }

    /** Records per tick a standby can receive from its upstream (a slow link: small). */
    public synchronized void setBandwidth(String member, int recordsPerTick) {
        bandwidth.put(member, recordsPerTick);
    }

    /** The running server at {@code address} if {@code from} can reach it, else null. */
    synchronized FakePostgres connect(FakePostgres from, HostPort address) {
        FakePostgres to = byAddress.get(address);
        if (to == null || !linked(from.name(), to.name()) || !to.isUp()) {
            return null;
        }
        return to;
    }

    // ------------------------------------------------------------------------------------------------ ids

    synchronized long newRecordId() {
        return nextRecord++;
    }

    /** Whether record {@code id} is a client's commit (not a checkpoint or an end-of-recovery record). */
    public synchronized boolean isClientWrite(long id) {
        return clientWrites.contains(id);
    }

    synchronized String newSystemId() {
        return Long.toString(nextSystemId + random.nextInt(1_000_000));
    }

    // ------------------------------------------------------------------------------------------------ replication

    void started(FakePostgres p, long generation) {
        synchronized (this) {
            connectedTo.remove(p.name());
        }
    }

    void promoted(FakePostgres p) {
        synchronized (this) {
            connectedTo.remove(p.name());
        }
        listener.promoted(p);
    }

    /**
     * One step of the world: every running standby connects to (or keeps streaming from) its upstream and receives
     * up to its bandwidth of records; then commits are acknowledged where their primary's standbys allow.
     */
    public void tick() {
        for (FakePostgres r : all()) {
            streamOnce(r, bandwidthOf(r.name()));
        }
        acknowledge();
    }

    /** Runs {@code clock} for {@code d} in 250 ms steps with a {@link #tick()} of the world after each. */
    public void runFor(ManualClock clock, Duration d) {
        for (long t = 0; t < d.toMillis(); t += 250) {
            clock.runFor(Duration.ofMillis(250));
            tick();
        }
    }

    /** A primary's clean shutdown: its connected standbys receive everything it wrote. */
    void flushToStandbys(FakePostgres primary) {
        for (FakePostgres r : all()) {
            HostPort up;
            synchronized (this) {
                up = connectedTo.get(r.name());
            }
            if (primary.address().equals(up) && linked(r.name(), primary.name()) && r.isReplicaRunning()) {
                r.receive(primary, Integer.MAX_VALUE);
            }
        }
    }

    private synchronized int bandwidthOf(String name) {
        return bandwidth.getOrDefault(name, defaultBandwidth);
    }

    private void streamOnce(FakePostgres r, int maxRecords) {
        if (!r.isReplicaRunning()) {
            synchronized (this) {
                connectedTo.remove(r.name());
            }
            return;
        }
        HostPort upAddr = r.upstream();
        FakePostgres up = upAddr == null ? null : connect(r, upAddr);
        if (up == null || up == r || !up.isUp() || up.walSize() == 0) {
            r.setStreaming(false);
            synchronized (this) {
                connectedTo.remove(r.name());
            }
            return;
        }
        boolean wasConnected;
        synchronized (this) {
            wasConnected = upAddr.equals(connectedTo.get(r.name()));
        }
        if (!wasConnected && !handshake(r, up)) {
            r.setStreaming(false);
            return;
        }
        synchronized (this) {
            connectedTo.put(r.name(), upAddr);
        }
        r.setStreaming(true);
        r.receive(up, maxRecords);
    }

    /**
     * What PostgreSQL checks when a standby connects: same system, and the standby's timeline is the upstream's or
     * one the upstream's history forked from after the standby's position. Content is not compared: on the same
     * timeline a diverged standby streams anyway, and we report that as an S4 breach.
     */
    private boolean handshake(FakePostgres r, FakePostgres up) {
        if (!up.systemId().equals(r.systemId())) {
            return false;
        }
        int rTl = r.timeline();
        int upTl = up.timeline();
        Lsn rPos = FakePostgres.lsnOf(r.walSize());
        if (rTl > upTl) {
            return false;
        }
        if (rTl == upTl && r.walSize() > up.walSize()) {
            return false; // "requested starting point is ahead of the WAL flush position of this server"
        }
        if (rTl < upTl) {
            TimelineHistory.Entry fork = up.historyCopy().stream().filter(e -> e.timeline() == rTl).findFirst()
                    .orElse(null);
            if (fork == null || rPos.isAfter(fork.switchLsn())) {
                return false;
            }
        }
        long[] mine = r.walCopy();
        long[] theirs = up.walCopy();
        int n = Math.min(mine.length, theirs.length);
        for (int i = 0; i < n; i++) {
            if (mine[i] != theirs[i]) {
                listener.divergedStream(r, up, "record " + i + " differs (" + mine[i] + " vs " + theirs[i]
                        + ") on timeline " + rTl);
                break;
            }
        }
        return true;
    }

    // ------------------------------------------------------------------------------------------------ commits

    /** A client commit on {@code p}; null when it refused the write. */
    public Commit commit(FakePostgres p) {
        long id = newRecordId();
        int index = p.write(id);
        if (index < 0) {
            return null;
        }
        Commit c = new Commit(id, p.name(), index);
        synchronized (this) {
            clientWrites.add(id);
        }
        synchronized (this) {
            pending.add(c);
        }
        return c;
    }

    private void acknowledge() {
        List<Commit> acked = new ArrayList<>();
        synchronized (this) {
            pending.removeIf(c -> {
                FakePostgres p = byName.get(c.primary);
                if (p == null || !p.isWritablePrimary()) {
                    return p == null || !p.isUp(); // a dead primary never acknowledges; a stopping one may later
                }
                if (isAcknowledged(p, c)) {
                    acked.add(c);
                    return true;
                }
                return false;
            });
        }
        for (Commit c : acked) {
            c.ackedAt = clock.nanoTime();
            listener.acknowledged(c);
        }
    }

    /**
     * PostgreSQL's rule for {@code synchronous_standby_names}: with {@code [FIRST] N (a,b,c)} (or a plain list, N = 1)
     * the commit waits for the N standbys listed first among those streaming from this primary; with
     * {@code ANY N (...)}, for any N of them. Fewer than N streaming: it waits.
     */
    private boolean isAcknowledged(FakePostgres p, Commit c) {
        Ssn ssn = Ssn.parse(p.ssn());
        if (ssn.names().isEmpty()) {
            return true;
        }
        List<String> streaming = ssn.names().stream().filter(n -> streamsFrom(n, p)).toList();
        if (streaming.size() < ssn.count()) {
            return false;
        }
        List<String> waitedFor = ssn.any() ? streaming : streaming.subList(0, ssn.count());
        int have = 0;
        for (String n : waitedFor) {
            FakePostgres s = byName.get(n);
            if (s.walSize() > c.index && s.record(c.index) == c.id) {
                have++;
            }
        }
        return have >= ssn.count();
    }

    private boolean streamsFrom(String standby, FakePostgres primary) {
        FakePostgres s = byName.get(standby);
        return s != null && primary.address().equals(connectedTo.get(standby)) && linked(standby, primary.name())
                && s.isStreaming();
    }

    synchronized List<ReplicationRow> replicationRows(FakePostgres primary) {
        Ssn ssn = Ssn.parse(primary.ssn());
        List<String> streamingNamed = ssn.names().stream().filter(n -> streamsFrom(n, primary)).toList();
        List<ReplicationRow> rows = new ArrayList<>();
        for (Map.Entry<String, HostPort> e : connectedTo.entrySet()) {
            if (!e.getValue().equals(primary.address())) {
                continue;
            }
            FakePostgres s = byName.get(e.getKey());
            if (s == null || !s.isStreaming() || !linked(s.name(), primary.name())) {
                continue;
            }
            int rank = streamingNamed.indexOf(s.name());
            String state = rank < 0 ? "async" : ssn.any() ? "quorum" : rank < ssn.count() ? "sync" : "potential";
            Lsn flush = FakePostgres.lsnOf(s.walSize());
            rows.add(new ReplicationRow(s.name(), "streaming", state, flush, flush));
        }
        return rows;
    }

    /** A parsed {@code synchronous_standby_names}: how many to wait for, of which names, first-listed or any. */
    record Ssn(int count, List<String> names, boolean any) {

        /** {@code "a"}, {@code "a, b"} (count 1), {@code [FIRST] 2 ("a","b")}, {@code ANY 1 (a, b)}. */
        static Ssn parse(String ssn) {
            String s = ssn == null ? "" : ssn.trim();
            int count = 1;
            boolean any = false;
            int open = s.indexOf('(');
            if (open >= 0 && s.endsWith(")")) {
                String head = s.substring(0, open).trim();
                String upper = head.toUpperCase(java.util.Locale.ROOT);
                if (upper.startsWith("ANY")) {
                    any = true;
                    head = head.substring(3).trim();
                } else if (upper.startsWith("FIRST")) {
                    head = head.substring(5).trim();
                }
                count = head.isEmpty() ? 1 : Integer.parseInt(head);
                s = s.substring(open + 1, s.length() - 1);
            }
            List<String> out = new ArrayList<>();
            for (String part : s.split(",")) {
                String x = part.trim();
                if (x.length() >= 2 && x.startsWith("\"") && x.endsWith("\"")) {
                    x = x.substring(1, x.length() - 1);
                }
                if (!x.isEmpty()) {
                    out.add(x);
                }
            }
            return new Ssn(count, List.copyOf(out), any);
        }
    }

    public synchronized List<Commit> pending() {
        return List.copyOf(pending);
    }

    /** Drops every pending (unacknowledged) commit of {@code primary}: its client gave up. */
    public synchronized void abandonPending(String primary) {
        pending.removeIf(c -> c.primary.equals(primary));
    }
}
