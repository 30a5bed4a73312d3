package io.pgha.core.internal.ha;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.ReplicationRow;
import io.pgha.core.cluster.SyncState;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.SynchronousMode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Synchronous standby management by the primary (Patroni's {@code process_sync_replication}), pure.
 *
 * <p>The {@code sync} key says who may be promoted without losing an acknowledged commit, so it must never name a
 * standby that might miss one (rule S3). Hence the order:
 * <ol>
 *   <li>removing: shrink {@code sync} first, then change {@code synchronous_standby_names} (ssn);</li>
 *   <li>adding: change ssn first; publish the standby in {@code sync} only once PostgreSQL reports it synchronous
 *       <em>and</em> it has flushed past the primary's position at the moment the new ssn took effect (commits
 *       acknowledged before that were acknowledged by other standbys and may be missing on the new one).</li>
 * </ol>
 */
final class SyncPlanner {

    /** Named in ssn when strict mode has no standby left: no real standby has this name, so commits wait. */
    static final String STRICT_PLACEHOLDER = "pgha_strict_sync_placeholder";

    private SyncPlanner() {}

    /** Steps for a leader running as primary. */
    static List<Action> plan(HaInput in) {
        HaSettings s = in.settings();
        ClusterView v = in.view();
        PgState pg = in.pg();
        SyncState sync = v.sync();
        List<Action> out = new ArrayList<>();
        if (s.synchronousMode() == SynchronousMode.OFF) {
            // synchronous_standby_names is pgha's alone (a managed parameter), so any value in force is left from
            // synchronous mode: by this primary, or by this data directory's earlier time as leader (an agent
            // restart forgets what it set; the sync key may be gone already). Stop waiting for standbys first,
            // then drop the claim.
            if (!pg.synchronousStandbyNames().isEmpty()) {
                out.add(new Action.SetSyncStandbyNames(""));
            }
            if (sync.version() != io.pgha.core.cluster.DcsVersion.ABSENT || sync.isActive()) {
                out.add(new Action.DeleteSync(sync.version()));
            }
            return out;
        }
        if (!in.me().equals(sync.leader())) {
            out.add(new Action.WriteSync(new SyncState(in.me(), List.of(), sync.version()), sync.version()));
            return out;
        }
        Map<String, ReplicationRow> rows = pg.replication().stream()
                .collect(Collectors.toMap(ReplicationRow::applicationName, Function.identity(), (a, b) -> a));
        List<ReplicationRow> candidates = pg.replication().stream()
                .filter(ReplicationRow::isStreaming)
                .filter(r -> r.flushLsn() != null)
                .filter(r -> {
                    Member m = v.members().get(r.applicationName());
                    return m != null && !m.tags().nosync() && !r.applicationName().equals(in.me());
                })
                // A nofailover standby in the sync key can never be promoted, so one that may be comes first, even
                // over a standby that is already synchronous (Patroni's order too, which a mixed cluster relies on).
                .sorted(Comparator.<ReplicationRow, Boolean>comparing(
                                r -> v.members().get(r.applicationName()).tags().nofailover())
                        .thenComparing(r -> !sync.standbys().contains(r.applicationName()))
                        .thenComparing(ReplicationRow::flushLsn, Comparator.reverseOrder())
                        .thenComparing(ReplicationRow::applicationName))
                .toList();
        List<String> picked = candidates.stream().limit(s.synchronousNodeCount())
                .map(ReplicationRow::applicationName).toList();

        String desired;
        List<String> keep;
        if (picked.isEmpty() && s.synchronousModeStrict()) {
            // Strict: keep waiting for the standbys we had (they hold every acknowledged commit), or for nobody.
            keep = sync.standbys();
            desired = keep.isEmpty() ? quote(STRICT_PLACEHOLDER) : format(keep);
        } else {
            keep = sync.standbys().stream().filter(picked::contains).toList();
            desired = picked.isEmpty() ? "" : format(picked);
        }
        boolean wroteSync = false;
        if (!keep.equals(sync.standbys())) {
            out.add(new Action.WriteSync(new SyncState(in.me(), keep, sync.version()), sync.version()));
            wroteSync = true;
        }
        boolean ssnInForce = desired.equals(pg.synchronousStandbyNames()) && desired.equals(in.memory().ssnApplied());
        if (!ssnInForce) {
            out.add(new Action.SetSyncStandbyNames(desired));
            return out;
        }
        if (wroteSync) {
            return out; // one compare-and-set of sync per cycle: the next cycle sees the new version
        }
        Lsn since = in.memory().ssnAppliedAt();
        Set<String> confirmed = new LinkedHashSet<>(keep);
        for (String name : picked) {
            ReplicationRow r = rows.get(name);
            if (r != null && r.isSynchronous() && r.flushLsn() != null && since != null
                    && !r.flushLsn().isBefore(since)) {
                confirmed.add(name);
            }
        }
        List<String> publish = picked.stream().filter(confirmed::contains).toList();
        if (!publish.equals(keep) && confirmed.size() > keep.size()) {
            out.add(new Action.WriteSync(new SyncState(in.me(), publish, sync.version()), sync.version()));
        }
        return out;
    }

    /** Steps before promoting this standby while synchronous mode is on (runs after the lock was won). */
    static List<Action> beforePromotion(HaInput in) {
        HaSettings s = in.settings();
        SyncState sync = in.view().sync();
        if (s.synchronousMode() == SynchronousMode.OFF) {
            return List.of();
        }
        List<Action> out = new ArrayList<>();
        if (s.synchronousModeStrict()) {
            // Keep waiting for the other standbys of the old synchronous set (one of them holds every acknowledged
            // commit too); with none, commits block until the leader's usual planning names a standby. Never the old
            // leader by name: its tags may be unknown by now (its key gone), and a nosync member must not be named.
            List<String> wait = sync.standbys().stream().filter(n -> !n.equals(in.me()))
                    .filter(n -> !taggedNosync(in, n)).toList();
            out.add(new Action.WriteSync(new SyncState(in.me(), wait, sync.version()), sync.version()));
            out.add(new Action.SetSyncStandbyNames(wait.isEmpty() ? quote(STRICT_PLACEHOLDER) : format(wait)));
        } else {
            out.add(new Action.WriteSync(new SyncState(in.me(), List.of(), sync.version()), sync.version()));
            out.add(new Action.SetSyncStandbyNames(""));
        }
        return out;
    }

    private static boolean taggedNosync(HaInput in, String name) {
        Member m = in.view().members().get(name);
        return m != null && m.tags().nosync();
    }

    /** {@code "a"} for one standby, {@code 2 ("a","b")} for several: every listed standby must acknowledge. */
    static String format(List<String> names) {
        if (names.size() == 1) {
            return quote(names.get(0));
        }
        return names.size() + " (" + names.stream().map(SyncPlanner::quote).collect(Collectors.joining(",")) + ")";
    }

    static String quote(String name) {
        return "\"" + name.replace("\"", "\"\"") + "\"";
    }

    /** The standby names in an ssn value written by {@link #format} (or a bare name). */
    static List<String> parse(String ssn) {
        String s = ssn == null ? "" : ssn.trim();
        if (s.isEmpty()) {
            return List.of();
        }
        int open = s.indexOf('(');
        if (open >= 0 && s.endsWith(")")) {
            s = s.substring(open + 1, s.length() - 1);
        }
        List<String> names = new ArrayList<>();
        for (String part : s.split(",")) {
            String p = part.trim();
            if (p.startsWith("\"") && p.endsWith("\"") && p.length() >= 2) {
                p = p.substring(1, p.length() - 1).replace("\"\"", "\"");
            }
            if (!p.isEmpty()) {
                names.add(p);
            }
        }
        return names;
    }
}
