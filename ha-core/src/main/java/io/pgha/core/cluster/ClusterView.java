package io.pgha.core.cluster;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Everything read from the DCS under one cluster's prefix in one call: an immutable snapshot.
 *
 * @param initialize        the {@code initialize} key: the system identifier, {@code ""} while a bootstrap runs,
 *                          null when absent
 * @param initializeVersion its DCS version
 * @param config            the {@code config} key ({@link GlobalConfig#ABSENT} when absent)
 * @param leader            the {@code leader} key, or null when the lock is free
 * @param members           member keys by name, sorted
 * @param failover          the {@code failover} key ({@link FailoverRequest#ABSENT} when absent)
 * @param sync              the {@code sync} key ({@link SyncState#ABSENT} when absent)
 * @param history           the {@code history} key
 * @param status            the {@code status} key
 * @param failsafe          the {@code failsafe} key (member name to api_url), or null when absent
 * @param problems          values that could not be decoded, each naming its key; they were left out of this view
 * @param undecodable       the keys (relative to the prefix: {@code config}, {@code sync}, ...) whose value could
 *                          not be decoded, with their versions: a distinct state, never "absent" (a repair writes
 *                          with that version)
 */
public record ClusterView(
        String initialize,
        long initializeVersion,
        GlobalConfig config,
        LeaderLock leader,
        SortedMap<String, Member> members,
        FailoverRequest failover,
        SyncState sync,
        TimelineHistory history,
        ClusterStatus status,
        Map<String, String> failsafe,
        List<String> problems,
        Map<String, Long> undecodable) {

    public static final ClusterView EMPTY = new ClusterView(null, DcsVersion.ABSENT, GlobalConfig.ABSENT, null,
            new TreeMap<>(), FailoverRequest.ABSENT, SyncState.ABSENT, TimelineHistory.ABSENT, ClusterStatus.ABSENT,
            null, List.of(), Map.of());

    public ClusterView {
        config = Objects.requireNonNullElse(config, GlobalConfig.ABSENT);
        members = Collections.unmodifiableSortedMap(new TreeMap<>(Objects.requireNonNullElse(members, Map.of())));
        failover = Objects.requireNonNullElse(failover, FailoverRequest.ABSENT);
        sync = Objects.requireNonNullElse(sync, SyncState.ABSENT);
        history = Objects.requireNonNullElse(history, TimelineHistory.ABSENT);
        status = Objects.requireNonNullElse(status, ClusterStatus.ABSENT);
        failsafe = failsafe == null ? null : Map.copyOf(failsafe);
        problems = List.copyOf(Objects.requireNonNullElse(problems, List.of()));
        undecodable = Map.copyOf(Objects.requireNonNullElse(undecodable, Map.of()));
    }

    /** The key's value is there but could not be decoded (see {@link #problems()}). */
    public boolean isUndecodable(String relativeKey) {
        return undecodable.containsKey(relativeKey);
    }

    public Optional<String> leaderName() {
        return leader == null ? Optional.empty() : Optional.of(leader.holder());
    }

    public boolean isLeader(String member) {
        return leader != null && leader.holder().equals(member);
    }

    public boolean isUnlocked() {
        return leader == null;
    }

    public Optional<Member> member(String name) {
        return Optional.ofNullable(members.get(name));
    }

    /** The leader's member key, if the lock is held and the holder published one. */
    public Optional<Member> leaderMember() {
        return leader == null ? Optional.empty() : member(leader.holder());
    }

    /** The initialize key holds a system identifier (not absent, not the empty "bootstrap running" marker). */
    public boolean isInitialized() {
        return initialize != null && !initialize.isEmpty();
    }

    public boolean hasFailoverRequest() {
        return !failover.isEmpty();
    }

    // Withers used by tests and the in-memory store; each returns a new snapshot.

    public ClusterView withLeader(LeaderLock l) {
        return new ClusterView(initialize, initializeVersion, config, l, members, failover, sync, history, status,
                failsafe, problems, undecodable);
    }

    public ClusterView withMember(Member m) {
        TreeMap<String, Member> ms = new TreeMap<>(members);
        ms.put(m.name(), m);
        return new ClusterView(initialize, initializeVersion, config, leader, ms, failover, sync, history, status,
                failsafe, problems, undecodable);
    }

    public ClusterView withInitialize(String sysid, long version) {
        return new ClusterView(sysid, version, config, leader, members, failover, sync, history, status, failsafe,
                problems, undecodable);
    }

    public ClusterView withConfig(GlobalConfig c) {
        return new ClusterView(initialize, initializeVersion, c, leader, members, failover, sync, history, status,
                failsafe, problems, undecodable);
    }

    public ClusterView withFailover(FailoverRequest f) {
        return new ClusterView(initialize, initializeVersion, config, leader, members, f, sync, history, status,
                failsafe, problems, undecodable);
    }

    public ClusterView withSync(SyncState s) {
        return new ClusterView(initialize, initializeVersion, config, leader, members, failover, s, history, status,
                failsafe, problems, undecodable);
    }

    public ClusterView withHistory(TimelineHistory h) {
        return new ClusterView(initialize, initializeVersion, config, leader, members, failover, sync, h, status,
                failsafe, problems, undecodable);
    }

    public ClusterView withStatus(ClusterStatus s) {
        return new ClusterView(initialize, initializeVersion, config, leader, members, failover, sync, history, s,
                failsafe, problems, undecodable);
    }

    public ClusterView withUndecodable(Map<String, Long> u) {
        return new ClusterView(initialize, initializeVersion, config, leader, members, failover, sync, history, status,
                failsafe, problems, u);
    }

    public ClusterView withFailsafe(Map<String, String> f) {
        return new ClusterView(initialize, initializeVersion, config, leader, members, failover, sync, history, status,
                f, problems, undecodable);
    }
}
