package io.pgha.core.internal.ha;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.ReplicationSlot;
import io.pgha.core.cluster.SlotConfig;
import io.pgha.core.config.HaSettings;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Which replication slots a member wants and what it changes to get there (pure: SlotPlanner, SlotConfig). */
class SlotPlannerTest {

    private static final Duration TTL = Duration.ofMinutes(30);
    private static final long MIN = Duration.ofMinutes(1).toNanos();

    private static SlotConfig config(Map<String, ?> json) {
        return SlotConfig.of(GlobalConfig.of(json));
    }

    private static SlotPlanner.Wanted leader(String me, List<String> members, SlotConfig c) {
        return SlotPlanner.wanted(me, members, c, List.of(), Map.of(), true, 0, TTL);
    }

    private static ReplicationSlot logical(String name, String db, String plugin) {
        return new ReplicationSlot(name, ReplicationSlot.LOGICAL, false, Lsn.of(1), db, plugin, false);
    }

    @Test
    void theLeaderWantsOneSlotPerOtherMemberNamedAsPatroniNamesThem() {
        SlotPlanner.Wanted w = leader("Db-1", List.of("Db-1", "db-2.east", "DB_3"), SlotConfig.NONE);

        assertThat(w.memberSlots()).as("lower case, other characters than [a-z0-9_] as _, none for itself")
                .containsExactly("db_2_east", "db_3");
        SlotPlanner.Changes c = SlotPlanner.changes(w, List.of(), SlotConfig.NONE, false);
        assertThat(c.create()).containsExactly("db_2_east", "db_3");
        assertThat(c.drop()).isEmpty();
    }

    @Test
    void aMemberThatLeftKeepsItsSlotForMemberSlotsTtlThenItIsDropped() {
        SlotPlanner.Wanted first = SlotPlanner.wanted("m1", List.of("m1", "m2", "m3"), SlotConfig.NONE, List.of(),
                Map.of(), true, 0, TTL);
        SlotPlanner.Wanted gone = SlotPlanner.wanted("m1", List.of("m1", "m2"), SlotConfig.NONE, List.of(),
                first.lastSeen(), false, 29 * MIN, TTL);
        assertThat(gone.memberSlots()).as("29 min after m3 was last listed").containsExactly("m2", "m3");

        SlotPlanner.Wanted expired = SlotPlanner.wanted("m1", List.of("m1", "m2"), SlotConfig.NONE, List.of(),
                gone.lastSeen(), false, 30 * MIN, TTL);
        assertThat(expired.memberSlots()).containsExactly("m2");
        List<ReplicationSlot> actual = List.of(ReplicationSlot.physical("m2", true, Lsn.of(10)),
                ReplicationSlot.physical("m3", false, Lsn.of(5)));
        assertThat(SlotPlanner.changes(expired, actual, SlotConfig.NONE, false).drop()).containsExactly("m3");

        SlotPlanner.Wanted atOnce = SlotPlanner.wanted("m1", List.of("m1", "m2"), SlotConfig.NONE, List.of(),
                first.lastSeen(), false, 1, Duration.ZERO);
        assertThat(atOnce.memberSlots()).as("member_slots_ttl 0: Patroni 3's behaviour").containsExactly("m2");
    }

    @Test
    void aNewLeaderKeepsWhatItsPredecessorRetainedButAnOngoingTermDoesNotReadItAgain() {
        SlotPlanner.Wanted fresh = SlotPlanner.wanted("m2", List.of("m2", "m3"), SlotConfig.NONE,
                List.of("m1", "m2", "m4"), Map.of(), true, 100 * MIN, TTL);
        assertThat(fresh.memberSlots()).as("the old leader's retained slots, not its own").containsExactly("m1",
                "m3", "m4");

        SlotPlanner.Wanted later = SlotPlanner.wanted("m2", List.of("m2", "m3"), SlotConfig.NONE,
                List.of("m1", "m4"), fresh.lastSeen(), false, 130 * MIN, TTL);
        assertThat(later.memberSlots()).as("a full ttl after the term began, the status key's own list (which"
                + " this leader wrote) does not renew them").containsExactly("m3");
    }

    @Test
    void permanentPhysicalSlotsAreKeptButNotOneNamedLikeTheLeader() {
        SlotConfig c = config(Map.of("slots", Map.of("archiver", Map.of("type", "physical"), "m1",
                Map.of("type", "physical"), "untyped", Map.of())));
        assertThat(c.permanent()).containsExactly("archiver", "m1", "untyped");
        assertThat(c.problems()).isEmpty();

        SlotPlanner.Wanted w = leader("m1", List.of("m1", "m2"), c);
        assertThat(w.permanent()).containsExactly("archiver", "untyped");
        SlotPlanner.Changes ch = SlotPlanner.changes(w,
                List.of(ReplicationSlot.physical("archiver", false, Lsn.of(42))), c, false);
        assertThat(ch.create()).containsExactly("m2", "untyped");
        assertThat(ch.positions()).as("for status.slots").containsExactly(Map.entry("archiver", Lsn.of(42)));
        assertThat(ch.drop()).isEmpty();
    }

    @Test
    void permanentLogicalSlotsAreRefusedWithAWarningAndNeverDropped() {
        SlotConfig c = config(Map.of("slots", Map.of("cdc", Map.of("type", "logical", "database", "app",
                "plugin", "pgoutput"), "Bad-Name", Map.of("type", "physical"))));
        assertThat(c.permanent()).isEmpty();
        assertThat(c.problems()).containsExactly(
                "slots.Bad-Name: not kept, a slot name must be 1-63 characters of [a-z0-9_]",
                "slots.cdc: permanent logical slots are not supported by pgha; it is neither created nor dropped");

        SlotPlanner.Changes ch = SlotPlanner.changes(leader("m1", List.of("m1"), c),
                List.of(logical("cdc", "app", "pgoutput"), logical("stray", "app", "pgoutput")), c, false);
        assertThat(ch.create()).isEmpty();
        assertThat(ch.drop()).as("only the slot nobody asked for").containsExactly("stray");
    }

    @Test
    void ignoreSlotsMatchersProtectWhatTheyMatchByAnySubsetOfTheirFields() {
        SlotConfig c = config(Map.of("ignore_slots", List.of(Map.of("name", "ext_physical", "type", "physical"),
                Map.of("type", "logical", "database", "app"), Map.of("plugin", "wal2json"))));
        List<ReplicationSlot> actual = List.of(
                ReplicationSlot.physical("ext_physical", false, Lsn.of(1)),
                ReplicationSlot.physical("other_physical", false, Lsn.of(1)),
                logical("app_cdc", "app", "pgoutput"),
                logical("crm_cdc", "crm", "pgoutput"),
                logical("crm_json", "crm", "wal2json"),
                new ReplicationSlot("pg_basebackup_123", ReplicationSlot.PHYSICAL, true, Lsn.of(1), null, null, true),
                ReplicationSlot.physical("streaming_now", true, Lsn.of(1)));

        SlotPlanner.Changes ch = SlotPlanner.changes(leader("m1", List.of("m1"), c), actual, c, false);
        assertThat(ch.drop()).as("temporary and active slots are never dropped either")
                .containsExactly("crm_cdc", "other_physical");
        assertThat(SlotPlanner.changes(leader("m1", List.of("m1"), c), actual, c, true).drop())
                .as("paused: nothing is dropped").isEmpty();
    }

    @Test
    void aMalformedIgnoreSlotsEntryProtectsEverySlotRatherThanDropOne() {
        SlotConfig c = config(Map.of("ignore_slots", List.of("ext_physical")));
        assertThat(c.problems()).hasSize(1);
        assertThat(c.problems().get(0)).contains("ignore_slots").contains("no slot is dropped");
        SlotPlanner.Changes ch = SlotPlanner.changes(leader("m1", List.of("m1", "m2"), c),
                List.of(ReplicationSlot.physical("ext_physical", false, Lsn.of(1))), c, false);
        assertThat(ch.drop()).isEmpty();
        assertThat(ch.create()).containsExactly("m2");
    }

    @Test
    void aReplicaKeepsNoSlotOfItsOwnExceptIgnoredOnes() {
        SlotConfig c = config(Map.of("ignore_slots", List.of(Map.of("name", "kept_by_hand"))));
        List<ReplicationSlot> leftFromPrimaryDays = List.of(ReplicationSlot.physical("m2", false, Lsn.of(1)),
                ReplicationSlot.physical("m3", false, Lsn.of(1)), ReplicationSlot.physical("kept_by_hand", false,
                        Lsn.of(1)));
        SlotPlanner.Changes ch = SlotPlanner.changes(SlotPlanner.Wanted.NONE, leftFromPrimaryDays, c, false);
        assertThat(ch.create()).isEmpty();
        assertThat(ch.drop()).containsExactly("m2", "m3");
    }

    /** pgha does not cascade: a replicatefrom tag is not honoured, so the leader keeps that member's slot too. */
    @Test
    void withoutCascadingTheLeaderKeepsTheSlotOfEveryMember() {
        SlotPlanner.Wanted w = leader("m1", List.of("m1", "m2", "m3"), SlotConfig.NONE);
        assertThat(w.memberSlots()).containsExactly("m2", "m3");
    }

    @Test
    void aWantedNameHeldByALogicalSlotIsReportedNotReplaced() {
        SlotPlanner.Changes ch = SlotPlanner.changes(leader("m1", List.of("m1", "m2"), SlotConfig.NONE),
                List.of(logical("m2", "app", "pgoutput")), SlotConfig.NONE, false);
        assertThat(ch.create()).isEmpty();
        assertThat(ch.drop()).isEmpty();
        assertThat(ch.problems()).containsExactly(
                "slot m2 is wanted as a physical slot but a logical slot has that name; it is left as it is");
    }

    @Test
    void useSlotsAndMemberSlotsTtlComeFromTheConfigKeyInPatronisForms() {
        assertThat(GlobalConfig.of(Map.of("member_slots_ttl", "30min")).memberSlotsTtl()).contains(TTL);
        assertThat(GlobalConfig.of(Map.of("member_slots_ttl", "2h")).memberSlotsTtl())
                .contains(Duration.ofHours(2));
        assertThat(GlobalConfig.of(Map.of("member_slots_ttl", 90)).memberSlotsTtl())
                .contains(Duration.ofSeconds(90));
        assertThat(GlobalConfig.of(Map.of("postgresql", Map.of("use_slots", false))).useSlots()).contains(false);
        assertThatThrownBy(() -> GlobalConfig.of(Map.of("member_slots_ttl", "soon")))
                .hasMessageContaining("member_slots_ttl");

        HaSettings local = HaSettings.builder("c", "m1").build();
        assertThat(local.useSlots()).as("Patroni's default").isTrue();
        assertThat(local.memberSlotsTtl()).isEqualTo(TTL);
        GlobalConfig boot = GlobalConfig.bootstrap(local);
        assertThat(boot.useSlots()).contains(true);
        assertThat(boot.memberSlotsTtl()).contains(TTL);
        HaSettings applied = local.withDynamic(GlobalConfig.of(Map.of("postgresql", Map.of("use_slots", false),
                "member_slots_ttl", 0)).dynamic());
        assertThat(applied.useSlots()).as("the config key wins over the member's own").isFalse();
        assertThat(applied.memberSlotsTtl()).isZero();
    }
}
