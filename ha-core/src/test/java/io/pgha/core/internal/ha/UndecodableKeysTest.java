package io.pgha.core.internal.ha;

import static io.pgha.core.internal.ha.Fixture.MB;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.SyncState;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Keys that hold a value nobody can decode are a state of their own, not "absent" (issue: a malformed {@code sync}
 * let a non-synchronous member win the race and then fail its create-only write forever; a malformed {@code config}
 * unpaused the cluster and stuck the leader; a malformed {@code status} made every lag 0). Each cycle says so, the
 * side taken neither loses commits nor stays stuck, and a live leader repairs the key at once.
 */
class UndecodableKeysTest {

    @Test
    void s3_withAnUndecodableSyncKeyNoReplicaRacesEvenWhenEveryMemberConfirmsItIsNotAhead() {
        // Synchronous mode; the leader m1 died and its member key has expired; the garbled key may have named no
        // standby at all, in which case commits were acknowledged by m1 alone (simulation seed 3187: a nosync
        // member, confirmed by every member left, won and lost such a commit).
        Fixture f = Fixture.as("m3").noLeader().optime(100 * MB).pg(Fixture.replica(Lsn.of(100 * MB), null))
                .sync("m1", "m2").undecodable(KeyLayout.SYNC, 7);
        f.view = f.view.withMember(Fixture.member("m2", io.pgha.core.cluster.Role.REPLICA, Lsn.of(100 * MB)));
        f.peer("m2", 100 * MB);
        Decision d = f.decide();
        assertThat(Steps.of(d)).as("nobody can show it holds every acknowledged commit").isEmpty();
        assertThat(d.reason()).contains("the sync key is undecodable").contains("[undecodable: sync]");

        f.failover(null, "m3");
        Decision manual = f.decide();
        assertThat(Steps.of(manual)).as("rule S3 holds against an operator's failover too").isEmpty();
        assertThat(manual.reason()).contains("manual failover names me, but the sync key is undecodable");
    }

    @Test
    void s2_withAnUndecodableStatusKeyTheLagReferenceIsUnknownSoEveryPeerMustAnswer() {
        Fixture f = Fixture.as("m2").noLeader().pg(Fixture.replica(Lsn.of(10 * MB), null))
                .undecodable(KeyLayout.STATUS, 4).peer("m3", 10 * MB);
        Decision d = f.decide();
        assertThat(Steps.of(d)).as("m1 did not answer; it may hold what the leader last published").isEmpty();
        assertThat(d.reason()).contains("the status key is undecodable").contains("[m1]");
        f.peer("m1", 10 * MB);
        assertThat(Steps.of(f.decide())).contains("AcquireLeader");
    }

    @Test
    void aLiveLeaderRepairsAnUndecodableConfigWithTheLastGoodValueAndStaysPaused() {
        Fixture f = Fixture.as("m1").leader("m1").optime(100 * MB).pg(Fixture.primary(Lsn.of(100 * MB)))
                .config(Map.of("ttl", 30, "pause", true)).undecodable(KeyLayout.CONFIG, 12);
        Decision d = f.decide();
        assertThat(Steps.of(d)).startsWith("RenewLeader").contains("WriteConfig");
        Action.WriteConfig w = d.actions().stream().filter(Action.WriteConfig.class::isInstance)
                .map(Action.WriteConfig.class::cast).findFirst().orElseThrow();
        assertThat(w.expectedVersion()).isEqualTo(12);
        assertThat(w.config().pause()).as("the last good value: still paused").isTrue();
        assertThat(d.reason()).contains("[undecodable: config]");
    }

    @Test
    void aLiveLeaderRepairsUndecodableHistoryFailoverAndFailsafeKeys() {
        Fixture f = Fixture.as("m1").leader("m1").optime(100 * MB).pg(Fixture.primary(Lsn.of(100 * MB)))
                .history(1).undecodable(KeyLayout.HISTORY, 5).undecodable(KeyLayout.FAILOVER, 6)
                .undecodable(KeyLayout.FAILSAFE, 8);
        Decision d = f.decide();
        assertThat(Steps.of(d)).startsWith("RenewLeader").contains("WriteHistory", "ClearFailover",
                "WriteFailsafe");
    }

    @Test
    void s4_nobodyPromotesWhileTheHistoryKeyIsUndecodable() {
        // Simulation seed 4823: m3 announced timeline 3, promoted and died at once; the key was then garbled. m1,
        // a fresh process that never decoded the key, picked 3 again from what it knew (its own timeline 2), at the
        // same LSN: two timelines 3, and m3 later streamed m1's. The last value a member decoded may likewise miss
        // an announcement made just before the key was garbled.
        Fixture f = Fixture.as("m2").noLeader().optime(100 * MB).pg(Fixture.replica(Lsn.of(100 * MB), null))
                .history(1, 2, 3, 4).timeline(5).undecodable(KeyLayout.HISTORY, 9).peer("m1", 100 * MB)
                .peer("m3", 100 * MB);
        Decision race = f.decide();
        assertThat(Steps.of(race)).as("no race").isEmpty();
        assertThat(race.reason()).contains("the history key is undecodable");

        f.failover(null, "m2");
        assertThat(Steps.of(f.decide())).as("nor an operator's failover").isEmpty();

        Fixture holder = Fixture.as("m2").leader("m2").optime(100 * MB)
                .pg(Fixture.replica(Lsn.of(100 * MB), null)).history(1, 2, 3, 4).timeline(5)
                .undecodable(KeyLayout.HISTORY, 9);
        Decision held = holder.decide();
        assertThat(Steps.of(held)).as("a lock holder still to promote keeps the lock but neither promotes nor"
                + " rewrites the key from what it knows").containsExactly("RenewLeader");
        assertThat(held.reason()).contains("not promoting").contains("the history key is undecodable");
    }
}
