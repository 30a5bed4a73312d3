package io.pgha.core.cluster;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The slot parts of the {@code config} key, in Patroni's format: {@code slots} (permanent slots, a map of name to
 * {@code {type: physical}}) and {@code ignore_slots} (a list of matchers, each any subset of name, type, database and
 * plugin).
 *
 * <p>Read leniently, entry by entry: a malformed entry is left out and reported in {@link #problems()}, so one bad
 * entry neither makes the whole {@code config} key unreadable nor lets the leader drop a slot an operator meant to
 * keep (a permanent slot that cannot be kept is protected as if ignored, see {@link #protectedNames()}).
 *
 * @param permanent physical permanent slots the leader keeps, by name
 * @param ignore    slots no member ever creates or drops
 * @param protectedNames names from {@code slots} that pgha does not manage (logical slots, bad entries): never dropped
 * @param problems  one sentence per entry that was left out, naming it and the rule
 */
public record SlotConfig(List<String> permanent, List<Matcher> ignore, List<String> protectedNames,
        List<String> problems) {

    public static final SlotConfig NONE = new SlotConfig(List.of(), List.of(), List.of(), List.of());

    private static final Pattern SLOT_NAME = Pattern.compile("[a-z0-9_]{1,63}");

    public SlotConfig {
        permanent = List.copyOf(permanent);
        ignore = List.copyOf(ignore);
        protectedNames = List.copyOf(protectedNames);
        problems = List.copyOf(problems);
    }

    /**
     * One {@code ignore_slots} entry; a null field matches anything.
     */
    public record Matcher(String name, String type, String database, String plugin) {
        public boolean matches(ReplicationSlot s) {
            return (name == null || name.equals(s.name())) && (type == null || type.equals(s.type()))
                    && (database == null || database.equals(s.database()))
                    && (plugin == null || plugin.equals(s.plugin()));
        }
    }

    /** Whether {@code s} is outside pgha's care: an {@code ignore_slots} match or a protected permanent name. */
    public boolean ignores(ReplicationSlot s) {
        return protectedNames.contains(s.name()) || ignore.stream().anyMatch(m -> m.matches(s));
    }

    /** Reads the {@code slots} and {@code ignore_slots} entries of {@code config}. */
    public static SlotConfig of(GlobalConfig config) {
        Map<String, Object> json = config.json();
        List<String> permanent = new ArrayList<>();
        List<String> protectedNames = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        Object slots = json.get("slots");
        if (slots instanceof Map<?, ?> m) {
            for (Map.Entry<?, ?> e : new TreeMap<>(m).entrySet()) {
                String name = String.valueOf(e.getKey());
                Object type = e.getValue() instanceof Map<?, ?> spec ? spec.get("type") : null;
                if (!SLOT_NAME.matcher(name).matches()) {
                    problems.add("slots." + name + ": not kept, a slot name must be 1-63 characters of [a-z0-9_]");
                } else if (e.getValue() != null && !(e.getValue() instanceof Map)) {
                    problems.add("slots." + name + ": not kept, expected an object such as {type: physical}");
                    protectedNames.add(name);
                } else if (type == null || "physical".equals(type)) {
                    // Patroni: a slot without a type is physical.
                    permanent.add(name);
                } else if ("logical".equals(type)) {
                    problems.add("slots." + name + ": permanent logical slots are not supported by pgha; it is neither"
                            + " created nor dropped");
                    protectedNames.add(name);
                } else {
                    problems.add("slots." + name + ".type: expected physical or logical, got " + type
                            + "; the slot is neither created nor dropped");
                    protectedNames.add(name);
                }
            }
        } else if (slots != null) {
            problems.add("slots: expected an object of slot name to {type: physical}, got " + slots
                    + "; no permanent slot is kept and no slot is dropped");
            return new SlotConfig(List.of(), List.of(new Matcher(null, null, null, null)), List.of(), problems);
        }
        List<Matcher> ignore = new ArrayList<>();
        Object ign = json.get("ignore_slots");
        if (ign instanceof List<?> list) {
            for (Object o : list) {
                if (o instanceof Map<?, ?> mm && !mm.isEmpty() && mm.keySet().stream().allMatch(
                        k -> List.of("name", "type", "database", "plugin").contains(String.valueOf(k)))) {
                    ignore.add(new Matcher(str(mm.get("name")), str(mm.get("type")), str(mm.get("database")),
                            str(mm.get("plugin"))));
                } else {
                    // Safer to protect every slot than to drop one the operator meant to keep.
                    problems.add("ignore_slots: entry " + o + " is not an object of name, type, database and/or"
                            + " plugin; until it is fixed no slot is dropped");
                    ignore.add(new Matcher(null, null, null, null));
                }
            }
        } else if (ign != null) {
            problems.add("ignore_slots: expected a list of {name, type, database, plugin} objects, got " + ign
                    + "; until it is fixed no slot is dropped");
            ignore.add(new Matcher(null, null, null, null));
        }
        return new SlotConfig(Collections.unmodifiableList(permanent), ignore, protectedNames, problems);
    }

    private static String str(Object o) {
        return o == null ? null : Objects.toString(o);
    }
}
