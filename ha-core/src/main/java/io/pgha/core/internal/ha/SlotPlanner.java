package io.pgha.core.internal.ha;

import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.ReplicationSlot;
import io.pgha.core.cluster.SlotConfig;
import io.pgha.core.config.PostgresSettings;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Which replication slots a member should have, and what to create and drop to get there: a pure computation (no
 * I/O, no clock), carried out by {@link SlotKeeper}. Patroni's rules (docs/decisions/0108):
 *
 * <ul>
 *   <li>the leader keeps one physical slot per other member, named after it ({@link PostgresSettings#slotNameFor}:
 *       lower case, other characters than {@code [a-z0-9_]} as {@code _}), which that member's replica streams
 *       through ({@code primary_slot_name}); a member whose key is gone keeps its slot for {@code member_slots_ttl}
 *       (Patroni 4's retention; a new leader keeps what its predecessor listed in {@code status.retain_slots} for a
 *       full ttl);</li>
 *   <li>the leader keeps the permanent physical slots of the {@code slots} config, except one named like itself;</li>
 *   <li>every other slot is dropped, except temporary ones (pg_basebackup's), active ones (PostgreSQL refuses; tried
 *       again next cycle), those {@code ignore_slots} matches, and anything at all while paused;</li>
 *   <li>a replica keeps no slot of its own making: pgha does not cascade and does not copy slots to replicas, so a
 *       slot left from its time as a primary would only pin WAL there.</li>
 * </ul>
 */
final class SlotPlanner {

    private SlotPlanner() {}

    /**
     * The slots a leader wants.
     *
     * @param memberSlots slots of members (present or retained), sorted
     * @param permanent   permanent physical slots, sorted
     * @param lastSeen    per member slot, when its member was last listed (monotonic nanos): the retention clock
     */
    record Wanted(List<String> memberSlots, List<String> permanent, Map<String, Long> lastSeen) {
        static final Wanted NONE = new Wanted(List.of(), List.of(), Map.of());

        Wanted {
            memberSlots = List.copyOf(memberSlots);
            permanent = List.copyOf(permanent);
            lastSeen = Map.copyOf(lastSeen);
        }

        boolean contains(String slot) {
            return memberSlots.contains(slot) || permanent.contains(slot);
        }
    }

    /**
     * What to do to the actual slots.
     *
     * @param create    slots to create (physical, reserving WAL at once)
     * @param drop      slots to drop
     * @param positions the wanted slots that exist, with the oldest WAL each keeps (for {@code status.slots})
     * @param problems  wanted slots that cannot be had (a logical slot holds the name)
     */
    record Changes(List<String> create, List<String> drop, Map<String, Lsn> positions, List<String> problems) {
        Changes {
            create = List.copyOf(create);
            drop = List.copyOf(drop);
            positions = Map.copyOf(positions);
            problems = List.copyOf(problems);
        }
    }

    /**
     * @param me             this member's name: no slot for itself
     * @param members        names of the members listed in the store now (including me)
     * @param config         permanent and ignored slots
     * @param retainedBefore {@code status.retain_slots} as the previous leader wrote it; used only when
     *                       {@code newTerm}
     * @param lastSeen       the retention clock kept since this member started leading
     * @param newTerm        this member just started leading: seed the clock from {@code retainedBefore}
     * @param nowNanos       monotonic now
     * @param memberSlotsTtl how long a member that left keeps its slot
     */
    static Wanted wanted(String me, Collection<String> members, SlotConfig config, Collection<String> retainedBefore,
            Map<String, Long> lastSeen, boolean newTerm, long nowNanos, Duration memberSlotsTtl) {
        String mine = PostgresSettings.slotNameFor(me);
        Map<String, Long> seen = new HashMap<>(newTerm ? Map.of() : lastSeen);
        Set<String> present = new TreeSet<>();
        for (String m : members) {
            String slot = PostgresSettings.slotNameFor(m);
            if (!slot.equals(mine)) {
                present.add(slot);
                seen.put(slot, nowNanos);
            }
        }
        if (newTerm) {
            for (String r : retainedBefore) {
                if (!r.equals(mine)) {
                    seen.putIfAbsent(r, nowNanos);
                }
            }
        }
        long ttl = memberSlotsTtl.toNanos();
        Set<String> keep = new TreeSet<>(present);
        seen.entrySet().removeIf(e -> !present.contains(e.getKey()) && nowNanos - e.getValue() >= ttl);
        keep.addAll(seen.keySet());
        List<String> permanent = new ArrayList<>(new TreeSet<>(config.permanent()));
        permanent.remove(mine);
        return new Wanted(new ArrayList<>(keep), permanent, seen);
    }

    /**
     * @param wanted the slots wanted ({@link Wanted#NONE} on a replica)
     * @param actual the slots the server has
     * @param config what {@code ignore_slots} protects
     * @param paused maintenance mode: create what is missing, drop nothing
     */
    static Changes changes(Wanted wanted, List<ReplicationSlot> actual, SlotConfig config, boolean paused) {
        Map<String, ReplicationSlot> byName = new TreeMap<>();
        actual.forEach(s -> byName.put(s.name(), s));
        List<String> create = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        Map<String, Lsn> positions = new TreeMap<>();
        Set<String> all = new TreeSet<>(wanted.memberSlots());
        all.addAll(wanted.permanent());
        for (String name : all) {
            ReplicationSlot s = byName.get(name);
            if (s == null) {
                create.add(name);
            } else if (!s.isPhysical()) {
                problems.add("slot " + name + " is wanted as a physical slot but a " + s.type()
                        + " slot has that name; it is left as it is");
            } else if (s.restartLsn() != null) {
                positions.put(name, s.restartLsn());
            }
        }
        List<String> drop = new ArrayList<>();
        if (!paused) {
            for (ReplicationSlot s : byName.values()) {
                if (!s.temporary() && !s.active() && !wanted.contains(s.name()) && !config.ignores(s)) {
                    drop.add(s.name());
                }
            }
        }
        return new Changes(create, drop, positions, problems);
    }
}
