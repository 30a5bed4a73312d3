package io.pgha.core.internal.ha;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.cluster.Lsn;
import io.pgha.core.config.HaSettings;
import io.pgha.core.testkit.FakePostgres;
import io.pgha.core.testkit.InMemoryDcs;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Slot upkeep is best effort: a hung or failing slot call never holds up the leader's cycles or costs its lease, and
 * the slots come once the calls answer again (issue 12). (Test fakes: InMemoryDcs, FakePostgres, ManualClock.)
 */
@Timeout(60)
class HaLoopSlotsTest {

    private final OneMemberSim sim = new OneMemberSim("slots", Duration.ofSeconds(30));
    private final InMemoryDcs store = sim.store;

    @AfterEach
    void stop() {
        sim.close();
    }

    private static final class Counting implements HaObserver {
        final AtomicInteger cycles = new AtomicInteger();
        final List<String> fences = new ArrayList<>();

        @Override
        public void cycleCompleted(CycleReport report) {
            cycles.incrementAndGet();
        }

        @Override
        public void fenced(String why) {
            fences.add(why);
        }
    }

    /** m1 alone, leading after 20 s. */
    private FakePostgres leading(Counting seen) {
        sim.start(HaSettings.builder("slots", "m1").build(), seen);
        sim.clock.runFor(Duration.ofSeconds(20));
        FakePostgres pg = sim.net.get("m1");
        assertThat(pg.isWritablePrimary()).isTrue();
        return pg;
    }

    @Test
    void aHungSlotCallNeverHoldsUpTheLeadersCyclesNorItsLease() {
        Counting seen = new Counting();
        FakePostgres pg = leading(seen);

        pg.slowSlotCalls(Duration.ofHours(1));
        int before = seen.cycles.get();
        sim.clock.runFor(Duration.ofMinutes(5));

        assertThat(seen.cycles.get() - before).as("cycles in 5 min with loop_wait 10 s").isGreaterThanOrEqualTo(25);
        assertThat(store.peek().leader().holder()).isEqualTo("m1");
        assertThat(pg.isWritablePrimary()).isTrue();
        assertThat(seen.fences).isEmpty();
    }

    @Test
    void failingSlotCallsAreSkippedAndThePermanentSlotComesOnceTheyAnswer() {
        Counting seen = new Counting();
        FakePostgres pg = leading(seen);
        pg.failSlotCalls(true);
        store.adminPatchConfig(Map.of("slots", Map.of("archive", Map.of("type", "physical"))));
        sim.clock.runFor(Duration.ofMinutes(2));
        assertThat(pg.slotNames()).isEmpty();
        assertThat(store.peek().leader().holder()).isEqualTo("m1");
        assertThat(seen.fences).isEmpty();

        pg.failSlotCalls(false);
        int queries = pg.slotQueries();
        int cycles = seen.cycles.get();
        sim.clock.runFor(Duration.ofMinutes(1));
        assertThat(pg.slotNames()).containsExactly("archive");
        assertThat(store.peek().status().slots()).as("published in status.slots").containsOnlyKeys("archive");
        assertThat(store.peek().status().slots().get("archive")).isGreaterThan(Lsn.ZERO);
        assertThat(pg.slotQueries() - queries).as("one slot query per cycle, no more")
                .isBetween(1, seen.cycles.get() - cycles);

        Map<String, Object> removeSlots = new java.util.HashMap<>();
        removeSlots.put("slots", null);
        store.adminPatchConfig(removeSlots);
        sim.clock.runFor(Duration.ofSeconds(30));
        assertThat(pg.slotNames()).as("dropped once the config no longer names it").isEmpty();
    }
}
