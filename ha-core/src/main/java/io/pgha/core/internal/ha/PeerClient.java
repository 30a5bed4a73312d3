package io.pgha.core.internal.ha;

import io.pgha.core.cluster.Member;
import io.pgha.core.config.HaSettings;
import java.time.Duration;
import java.util.Collection;
import java.util.Map;

/**
 * Talks to other members' REST APIs: the leader race asks peers for their positions, a primary cut off from the DCS
 * asks them to confirm it (failsafe mode).
 */
public interface PeerClient {

    /**
     * Asks every member in parallel for its status ({@code GET <api_url>}). Members that do not answer within
     * {@code timeout} are absent from the result.
     */
    Map<String, PeerStatus> fetchStatus(Collection<Member> members, Duration timeout);

    /**
     * Tells every member in parallel that {@code self} still runs as primary ({@code POST /failsafe}).
     *
     * @param sentAtNanos the monotonic time to record as the round's start
     */
    FailsafeRound confirmFailsafe(Collection<Member> members, Member self, long sentAtNanos, Duration timeout);

    /** How long a round may wait for peers: at most 2 s, less when retryTimeout is shorter. */
    static Duration timeoutFor(HaSettings s) {
        Duration two = Duration.ofSeconds(2);
        return s.retryTimeout().compareTo(two) < 0 ? s.retryTimeout() : two;
    }

    /** For a member without a REST API: nobody answers. */
    PeerClient NONE = new PeerClient() {
        @Override
        public Map<String, PeerStatus> fetchStatus(Collection<Member> members, Duration timeout) {
            return Map.of();
        }

        @Override
        public FailsafeRound confirmFailsafe(Collection<Member> members, Member self, long sentAtNanos,
                Duration timeout) {
            return new FailsafeRound(sentAtNanos, members.stream().map(Member::name).toList(),
                    members.stream().map(Member::name).toList());
        }
    };
}
