package io.pgha.examples.e2e;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Watches every member's PostgreSQL for a whole scenario and proves, where it can, that two writable primaries
 * overlapped in time (rule S1), and that two members never ran as primary on the same timeline number (rule S4).
 *
 * <p>One thread per member asks {@code pg_is_in_recovery()}, the postmaster's start time and, on a primary, its
 * timeline every {@code interval}. What the polls can prove:
 * <ul>
 *   <li>A postmaster that is out of recovery stays out of recovery until it stops (PostgreSQL 15 cannot demote a
 *       running server), so within one postmaster lifetime (same {@code pg_postmaster_start_time()}) the member was
 *       writable at least from the instant its first "primary" answer was computed to the instant of its last one.
 *       Each answer was computed somewhere between the poll's start and end, so the member was certainly writable
 *       from the end of the first such poll to the start of the last.</li>
 *   <li>Two members' writable spans certainly overlapped when each one's first answer ended before the other's last
 *       answer started. That is a violation; nothing weaker is reported as one.</li>
 *   <li>A poll that got no answer (timeout, broken connection) is unknown. It never ends a span or proves anything;
 *       a refused connection only says no session can be opened now, and is not needed for the spans either.</li>
 * </ul>
 * A violation shorter than the poll interval, or one during which the primary did not answer, can go unseen: the
 * watch proves overlaps, it does not prove their absence.
 */
final class WritablePrimaryWatch implements AutoCloseable {

    /** What a member was seen writable for, in one postmaster lifetime, in {@link System#nanoTime()}. */
    record Span(String member, String postmasterStart, int timeline, long firstPollStart, long firstPollEnd,
            long lastPollStart, long lastPollEnd, int polls) {

        /** Certainly writable from here ({@code firstPollEnd}) to {@link #certainlyUntil()}. */
        long certainlyFrom() {
            return firstPollEnd;
        }

        long certainlyUntil() {
            return lastPollStart;
        }

        Span seenAgain(long start, long end) {
            return new Span(member, postmasterStart, timeline, firstPollStart, firstPollEnd, start, end, polls + 1);
        }
    }

    private final long origin = System.nanoTime();
    private final List<Poller> pollers = new ArrayList<>();
    // Keyed by member + postmaster start time; guarded by this.
    private final Map<String, Span> spans = new LinkedHashMap<>();
    private final List<String> notes = new ArrayList<>();
    private final AtomicLong answered = new AtomicLong();
    private final AtomicLong unknown = new AtomicLong();

    WritablePrimaryWatch(List<AgentProcess> members, Duration interval, Duration maxRunTime) {
        for (AgentProcess m : members) {
            MemberPoll poll = new MemberPoll(m);
            pollers.add(new Poller("e2e-primary-watch-" + m.name, interval, maxRunTime, poll::once,
                    poll::disconnect));
        }
    }

    /** One member's polls, over one connection while it lasts. */
    private final class MemberPoll {
        private final AgentProcess m;
        private Connection c;

        MemberPoll(AgentProcess m) {
            this.m = m;
        }

        void once() {
            long start = System.nanoTime();
            try {
                if (c == null) {
                    // Short timeouts: a member that hangs must not stretch a poll into seconds.
                    c = m.sql(Duration.ofSeconds(2), Duration.ofSeconds(1));
                }
                try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(
                        "SELECT pg_is_in_recovery(), pg_postmaster_start_time()::text, CASE WHEN pg_is_in_recovery()"
                                + " THEN NULL ELSE pg_walfile_name(pg_current_wal_lsn()) END")) {
                    rs.next();
                    boolean inRecovery = rs.getBoolean(1);
                    String postmasterStart = rs.getString(2);
                    String walFile = rs.getString(3);
                    long end = System.nanoTime();
                    answered.incrementAndGet();
                    if (!inRecovery) {
                        // A WAL file's name starts with its timeline, in 8 hex digits.
                        sawPrimary(m.name, postmasterStart, Integer.parseInt(walFile.substring(0, 8), 16), start,
                                end);
                    }
                }
            } catch (SQLException | RuntimeException e) {
                if (!(e instanceof SQLException se && Sql.refusesSessions(se))) {
                    unknown.incrementAndGet();
                }
                disconnect();
            }
        }

        void disconnect() {
            Sql.closeQuietly(c);
            c = null;
        }
    }

    private synchronized void sawPrimary(String member, String postmasterStart, int timeline, long start, long end) {
        String key = member + "@" + postmasterStart;
        Span s = spans.get(key);
        if (s == null) {
            spans.put(key, new Span(member, postmasterStart, timeline, start, end, start, end, 1));
        } else {
            if (s.timeline() != timeline) {
                notes.add(member + " changed timeline while running as primary: " + s.timeline() + " -> " + timeline);
            }
            spans.put(key, s.seenAgain(start, end));
        }
    }

    /** Every span seen so far, in the order they began. */
    synchronized List<Span> spans() {
        return List.copyOf(spans.values());
    }

    /** Polls that got an answer (either role); a watch with none watched nothing. */
    long answeredPolls() {
        return answered.get();
    }

    /**
     * The proven violations: pairs of members whose writable spans certainly overlapped, a member whose timeline
     * changed while it ran as primary, and a timeline number some other member already ran as primary on
     * ({@code timelineOwners}, shared across scenarios, is updated with what this watch saw).
     */
    synchronized List<String> violations(Map<Integer, String> timelineOwners) {
        List<String> out = new ArrayList<>(notes);
        List<Span> all = List.copyOf(spans.values());
        for (int i = 0; i < all.size(); i++) {
            for (int j = i + 1; j < all.size(); j++) {
                Span a = all.get(i);
                Span b = all.get(j);
                if (!a.member().equals(b.member()) && a.certainlyFrom() < b.certainlyUntil()
                        && b.certainlyFrom() < a.certainlyUntil()) {
                    out.add("two writable primaries: " + describe(a) + " and " + describe(b) + " overlap for at least "
                            + (Math.min(a.certainlyUntil(), b.certainlyUntil())
                                    - Math.max(a.certainlyFrom(), b.certainlyFrom())) / 1_000_000 + " ms");
                }
            }
        }
        for (Span s : all) {
            String owner = timelineOwners.putIfAbsent(s.timeline(), s.member());
            if (owner != null && !owner.equals(s.member())) {
                out.add("timeline " + s.timeline() + " reused: " + s.member() + " ran as primary on it, and so did "
                        + owner + " earlier");
            }
        }
        return out;
    }

    /** One line per span, for the scenario's output. */
    synchronized String report() {
        StringBuilder b = new StringBuilder("e2e: writable primaries seen (" + answered.get() + " answers, "
                + unknown.get() + " polls unknown):");
        for (Span s : spans.values()) {
            b.append("\n  ").append(describe(s));
        }
        return b.toString();
    }

    private String describe(Span s) {
        return String.format("%s on timeline %d (postmaster of %s): primary from +%d..%d ms to +%d..%d ms, %d polls",
                s.member(), s.timeline(), s.postmasterStart(), ms(s.firstPollStart()), ms(s.firstPollEnd()),
                ms(s.lastPollStart()), ms(s.lastPollEnd()), s.polls());
    }

    private long ms(long nanos) {
        return (nanos - origin) / 1_000_000;
    }

    @Override
    public void close() {
        pollers.forEach(Poller::close);
    }
}
