package io.pgha.examples.demo;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/**
 * The application: inserts numbered rows, one per transaction, through whichever member is the leader, and counts
 * every commit PostgreSQL acknowledged. It finds the leader the way a load balancer would, by asking each member's
 * REST API {@code GET /primary} (200 only from the member that holds the leader lock and runs as primary), and on a
 * new connection checks {@code pg_is_in_recovery()} once more before writing.
 *
 * <p>A row is <em>acknowledged</em> when {@code executeUpdate} returned: that is the promise "lost 0" is about. A
 * row whose insert failed may or may not have committed (the kill can land after the commit and before the answer),
 * so it is counted as unanswered, never as acknowledged or lost.
 */
final class Writer implements AutoCloseable {

    /** An interval without acknowledged writes, from the first failed attempt to the next acknowledged row. */
    record Outage(long lastAckAt, long lastAckRow, long failedAt, String failedVia, String firstError,
            long resumedAt, String resumedVia, long resumedRow, int failedAttempts) {}

    private final List<MemberProcess> members;
    private final String password;
    private final Timeline timeline;
    private final long pauseNanos;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofMillis(300)).build();
    private final Thread thread;
    private volatile boolean stopping;

    // Written by the writer thread only; read by others after join() or under this lock.
    private final BitSet acknowledged = new BitSet();
    private final List<Long> unanswered = new ArrayList<>();
    private final Map<String, Integer> ackedVia = new LinkedHashMap<>();
    private final List<Outage> outages = new ArrayList<>();
    private long lastAckAt;
    private long lastAckRow;
    private String lastAckVia;
    private long failedAt;
    private String failedVia;
    private String firstError;
    private int failedAttempts;
    private long nextRow = 1;

    private Connection conn;
    private PreparedStatement insert;
    private String connectedTo;

    Writer(List<MemberProcess> members, String password, int rowsPerSecond, Timeline timeline) {
        this.members = List.copyOf(members);
        this.password = password;
        this.timeline = timeline;
        this.pauseNanos = TimeUnit.SECONDS.toNanos(1) / rowsPerSecond;
        this.thread = new Thread(this::run, "pgha-demo-writer");
        this.thread.setDaemon(true);
    }

    /** Creates the table through the leader (a synchronous commit, so the standby has it too). */
    static void createTable(MemberProcess leader, String password) throws SQLException {
        try (Connection c = connect(leader, password); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE demo_writes (id bigint PRIMARY KEY,"
                    + " written_at timestamptz NOT NULL DEFAULT clock_timestamp())");
        }
    }

    void start() {
        thread.start();
    }

    private void run() {
        long next = System.nanoTime();
        while (!stopping) {
            if (conn == null && !connectToLeader()) {
                pause(100);
                continue;
            }
            long row = nextRow++;
            try {
                insert.setLong(1, row);
                insert.executeUpdate();
                acknowledged(row, timeline.now());
            } catch (SQLException e) {
                synchronized (this) {
                    unanswered.add(row);
                }
                failed(connectedTo, oneLine(e));
                disconnect();
            }
            next += pauseNanos;
            long wait = next - System.nanoTime();
            if (wait > 0) {
                pause(TimeUnit.NANOSECONDS.toMillis(wait));
            } else {
                next = System.nanoTime(); // fell behind (an outage): do not burst to catch up
            }
        }
        disconnect();
    }

    private boolean connectToLeader() {
        Optional<MemberProcess> leader = findLeader();
        if (leader.isEmpty()) {
            failed(null, "no member answers GET /primary with 200");
            return false;
        }
        MemberProcess m = leader.get();
        try {
            Connection c = connect(m, password);
            try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT pg_is_in_recovery()")) {
                r.next();
                if (r.getBoolean(1)) {
                    c.close();
                    failed(m.name, m.name + " is still in recovery");
                    return false;
                }
            }
            conn = c;
            insert = c.prepareStatement("INSERT INTO demo_writes (id) VALUES (?)");
            connectedTo = m.name;
            return true;
        } catch (SQLException e) {
            failed(m.name, oneLine(e));
            disconnect();
            return false;
        }
    }

    /** The member whose {@code /primary} answers 200; asked in parallel, 500 ms at most. */
    private Optional<MemberProcess> findLeader() {
        List<java.util.concurrent.CompletableFuture<Integer>> answers = new ArrayList<>();
        for (MemberProcess m : members) {
            HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + m.restPort + "/primary"))
                    .timeout(Duration.ofMillis(500)).GET().build();
            answers.add(http.sendAsync(req, HttpResponse.BodyHandlers.discarding()).thenApply(HttpResponse::statusCode)
                    .exceptionally(e -> 0));
        }
        for (int i = 0; i < members.size(); i++) {
            try {
                if (answers.get(i).get(1, TimeUnit.SECONDS) == 200) {
                    return Optional.of(members.get(i));
                }
            } catch (Exception e) {
                // no answer: not the leader as far as the writer can tell
            }
        }
        return Optional.empty();
    }

    static Connection connect(MemberProcess m, String password) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", "postgres");
        p.setProperty("password", password);
        p.setProperty("connectTimeout", "2");
        p.setProperty("loginTimeout", "4");
        // A commit waits for the synchronous standby; 5 s without an answer means the server is gone.
        p.setProperty("socketTimeout", "5");
        p.setProperty("sslmode", "disable");
        p.setProperty("ApplicationName", "pgha-demo-writer");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + m.pgPort + "/postgres", p);
    }

    private synchronized void acknowledged(long row, long at) {
        if (failedAt != 0) {
            Outage o = new Outage(lastAckAt, lastAckRow, failedAt, failedVia, firstError, at, connectedTo, row,
                    failedAttempts);
            outages.add(o);
            timeline.event(at, "writes accepted again, through " + connectedTo + " (row " + row + ", after "
                    + failedAttempts + " refused attempt" + (failedAttempts == 1 ? "" : "s") + ")");
            failedAt = 0;
            failedAttempts = 0;
        } else if (lastAckAt == 0) {
            timeline.event(at, "first row acknowledged by " + connectedTo);
        }
        acknowledged.set((int) row);
        ackedVia.merge(connectedTo, 1, Integer::sum);
        lastAckAt = at;
        lastAckRow = row;
        lastAckVia = connectedTo;
    }

    private synchronized void failed(String via, String error) {
        if (stopping) {
            return; // stopping is not an outage
        }
        failedAttempts++;
        if (failedAt != 0 || lastAckAt == 0) {
            return;
        }
        failedAt = timeline.now();
        failedVia = via;
        firstError = error;
        timeline.event(failedAt, "writes fail" + (via == null ? "" : " on " + via) + ": " + error
                + String.format(java.util.Locale.ROOT, " (last acknowledged: row %d at %.2fs)", lastAckRow,
                        timeline.seconds(lastAckAt)));
    }

    private void disconnect() {
        if (conn != null) {
            try {
                conn.close();
            } catch (SQLException e) {
                // the server is gone; nothing to close cleanly
            }
        }
        conn = null;
        insert = null;
        connectedTo = null;
    }

    private void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            stopping = true;
        }
    }

    /** The outage that began after {@code since} and has ended, if any. */
    synchronized Optional<Outage> outageAfter(long since) {
        return outages.stream().filter(o -> o.failedAt() >= since || o.resumedAt() >= since).findFirst();
    }

    synchronized List<Outage> outages() {
        return List.copyOf(outages);
    }

    synchronized int acknowledgedCount() {
        return acknowledged.cardinality();
    }

    /** Rows acknowledged so far, per member they were written through. */
    synchronized Map<String, Integer> acknowledgedVia() {
        return new LinkedHashMap<>(ackedVia);
    }

    synchronized BitSet acknowledgedRows() {
        return (BitSet) acknowledged.clone();
    }

    synchronized List<Long> unansweredRows() {
        return List.copyOf(unanswered);
    }

    synchronized String lastAckVia() {
        return lastAckVia;
    }

    /** Whether writes currently fail (an outage has begun and not ended). */
    synchronized boolean failing() {
        return failedAt != 0;
    }

    /**
     * Stops writing and waits for the thread to end: the insert in progress is allowed to finish (interrupting it
     * would leave its row unanswered for no reason), which takes at most one socket timeout.
     */
    @Override
    public void close() {
        stopping = true;
        try {
            thread.join(TimeUnit.SECONDS.toMillis(7));
            if (thread.isAlive()) {
                thread.interrupt();
                thread.join(TimeUnit.SECONDS.toMillis(2));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The row ids in {@code demo_writes} on {@code m}. */
    static BitSet rowsOn(MemberProcess m, String password) throws SQLException {
        BitSet rows = new BitSet();
        try (Connection c = connect(m, password); Statement s = c.createStatement();
                ResultSet r = s.executeQuery("SELECT id FROM demo_writes")) {
            while (r.next()) {
                rows.set((int) r.getLong(1));
            }
        }
        return rows;
    }

    static String oneLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        m = m.lines().findFirst().orElse(m).trim();
        return m.length() > 160 ? m.substring(0, 160) + "..." : m;
    }
}
