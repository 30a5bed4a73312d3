package io.pgha.core.internal.ha;

import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.config.DataSize;
import io.pgha.core.config.DynamicSettings;
import io.pgha.core.config.Durations;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.SynchronousMode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Which of the stored {@code config} key's settings a member applies. A stored value that breaks a rule must not
 * freeze the cluster (issue 12: {@code loop_wait: 3} with ttl 10 and retry_timeout 4, which Patroni's tools accept,
 * made every member ignore the whole key): each offending setting keeps its last applied value, the rest is applied.
 *
 * <p>The timing settings (ttl, loop_wait, retry_timeout) are bound together by rule S1; of the stored ones, the
 * largest subset that gives a valid combination with the others at their last applied values is taken, and when no
 * non-empty subset does, the whole last applied triple stays. The result is therefore always a combination that was
 * checked as a whole: no mix of old and new values is applied without passing every rule. See
 * docs/decisions/0020.
 */
public final class DynamicConfigRules {

    /** The settings of the {@code config} key pgha interprets, in {@link DynamicSettings}' order; pause excepted. */
    enum Setting {
        TTL("ttl", DynamicSettings::ttl),
        LOOP_WAIT("loop_wait", DynamicSettings::loopWait),
        RETRY_TIMEOUT("retry_timeout", DynamicSettings::retryTimeout),
        MAXIMUM_LAG_ON_FAILOVER("maximum_lag_on_failover", DynamicSettings::maximumLagOnFailover),
        PRIMARY_START_TIMEOUT("primary_start_timeout", DynamicSettings::primaryStartTimeout),
        SYNCHRONOUS_MODE("synchronous_mode", DynamicSettings::synchronousMode),
        SYNCHRONOUS_MODE_STRICT("synchronous_mode_strict", DynamicSettings::synchronousModeStrict),
        SYNCHRONOUS_NODE_COUNT("synchronous_node_count", DynamicSettings::synchronousNodeCount),
        FAILSAFE_MODE("failsafe_mode", DynamicSettings::failsafeMode),
        CHECK_TIMELINE("check_timeline", DynamicSettings::checkTimeline),
        USE_PG_REWIND("postgresql.use_pg_rewind", DynamicSettings::usePgRewind),
        USE_SLOTS("postgresql.use_slots", DynamicSettings::useSlots),
        MEMBER_SLOTS_TTL("member_slots_ttl", DynamicSettings::memberSlotsTtl);

        static final Set<Setting> TIMING = EnumSet.of(TTL, LOOP_WAIT, RETRY_TIMEOUT);

        final String key;
        final Function<DynamicSettings, Object> get;

        Setting(String key, Function<DynamicSettings, Object> get) {
            this.key = key;
            this.get = get;
        }
    }

    /**
     * The settings to apply and the stored values not applied.
     *
     * @param settings the effective settings: valid by every rule checked
     * @param kept     per Patroni key of a setting whose stored value was not applied: why (the rule it breaks and
     *                 the value kept instead); empty when all of it applies
     */
    public record Resolved(HaSettings settings, Map<String, String> kept) {
        public Resolved {
            kept = Map.copyOf(kept);
        }
    }

    private DynamicConfigRules() {}

    /**
     * @param local   this member's own settings (what an absent key in the config means)
     * @param applied the settings applied so far; valid by every rule
     * @param stored  what the {@code config} key holds
     * @param problem further rules on a whole combination (the store's lease guarantee, the watchdog): null when it
     *                passes, else the message
     */
    public static Resolved resolve(HaSettings local, HaSettings applied, DynamicSettings stored,
            Function<HaSettings, String> problem) {
        return resolve(local, applied, stored, Map.of(), problem);
    }

    /**
     * As {@link #resolve(HaSettings, HaSettings, DynamicSettings, Function)} for a config as read from the store:
     * a setting whose stored value has the wrong type ({@link GlobalConfig#malformed()}) keeps its last applied
     * value, named in {@link Resolved#kept()} like a value that breaks a rule.
     */
    public static Resolved resolve(HaSettings local, HaSettings applied, GlobalConfig stored,
            Function<HaSettings, String> problem) {
        return resolve(local, applied, stored.dynamic(), stored.malformed(), problem);
    }

    private static Resolved resolve(HaSettings local, HaSettings applied, DynamicSettings stored,
            Map<String, String> malformed, Function<HaSettings, String> problem) {
        DynamicSettings from = applied.dynamic();
        Set<Setting> unusable = EnumSet.noneOf(Setting.class);
        Map<String, String> unusableWhy = new LinkedHashMap<>();
        for (Setting s : Setting.values()) {
            String why = malformed.get(s.key);
            if (why == null && s == Setting.PRIMARY_START_TIMEOUT) {
                why = malformed.get("master_start_timeout");
            }
            if (why != null) {
                why = why.startsWith(s.key + ": ") ? why.substring(s.key.length() + 2) : why;
                unusable.add(s);
                unusableWhy.put(s.key, "keeping " + s.key + " = " + show(s.get.apply(from))
                        + ", the stored value is unusable: " + why);
            }
        }
        Set<Setting> present = present(stored);
        DynamicSettings wanted = pick(pick(local.dynamic(), stored, present), from, unusable);
        Resolved r = resolveUsable(applied, from, wanted, problem);
        if (unusableWhy.isEmpty()) {
            return r;
        }
        Map<String, String> kept = new LinkedHashMap<>(unusableWhy);
        kept.putAll(r.kept());
        return new Resolved(r.settings(), kept);
    }

    private static Resolved resolveUsable(HaSettings applied, DynamicSettings from, DynamicSettings wanted,
            Function<HaSettings, String> problem) {
        Set<Setting> changed = EnumSet.noneOf(Setting.class);
        for (Setting s : Setting.values()) {
            if (!s.get.apply(wanted).equals(s.get.apply(from))) {
                changed.add(s);
            }
        }
        String all = check(applied, from, wanted, changed, problem);
        if (all == null) {
            return new Resolved(build(applied, from, wanted, changed), Map.of());
        }
        Map<String, String> kept = new LinkedHashMap<>();
        Set<Setting> take = EnumSet.noneOf(Setting.class);
        for (Setting s : changed) {
            if (Setting.TIMING.contains(s)) {
                continue;
            }
            String p = check(applied, from, wanted, EnumSet.of(s), problem);
            if (p == null) {
                take.add(s);
            } else {
                kept.put(s.key, keptMessage(s, from, wanted, p));
            }
        }
        Set<Setting> timing = EnumSet.copyOf(changed);
        timing.retainAll(Setting.TIMING);
        if (!timing.isEmpty()) {
            Set<Setting> withAllTiming = EnumSet.copyOf(take);
            withAllTiming.addAll(timing);
            String timingProblem = check(applied, from, wanted, withAllTiming, problem);
            Set<Setting> best = EnumSet.noneOf(Setting.class);
            if (timingProblem == null) {
                best = timing;
            } else {
                for (Set<Setting> subset : subsetsLargestFirst(timing)) {
                    Set<Setting> t = EnumSet.copyOf(take);
                    t.addAll(subset);
                    if (check(applied, from, wanted, t, problem) == null) {
                        best = subset;
                        break;
                    }
                }
            }
            take.addAll(best);
            for (Setting s : timing) {
                if (!best.contains(s)) {
                    kept.put(s.key, keptMessage(s, from, wanted, timingProblem));
                }
            }
        }
        if (check(applied, from, wanted, take, problem) != null) {
            // Cannot happen with single-field rules outside the timing triple; if it does, nothing new is applied.
            take.clear();
        }
        return new Resolved(build(applied, from, wanted, take), kept);
    }

    /**
     * One line naming each setting whose effective value differs between {@code before} and {@code after}, e.g.
     * {@code loop_wait 10s -> 3s, synchronous_mode off -> on}; empty when none does.
     */
    public static String changes(HaSettings before, HaSettings after) {
        List<String> out = new ArrayList<>();
        DynamicSettings a = before.dynamic();
        DynamicSettings b = after.dynamic();
        for (Setting s : Setting.values()) {
            Object x = s.get.apply(a);
            Object y = s.get.apply(b);
            if (!x.equals(y)) {
                out.add(s.key + " " + show(x) + " -> " + show(y));
            }
        }
        return String.join(", ", out);
    }

    private static String keptMessage(Setting s, DynamicSettings from, DynamicSettings wanted, String problem) {
        String rule = problem.startsWith("config: ") ? problem.substring("config: ".length()) : problem;
        return "keeping " + s.key + " = " + show(s.get.apply(from)) + ", not the stored " + show(s.get.apply(wanted))
                + ": " + rule;
    }

    private static String check(HaSettings applied, DynamicSettings from, DynamicSettings wanted, Set<Setting> take,
            Function<HaSettings, String> problem) {
        try {
            return problem.apply(build(applied, from, wanted, take));
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
    }

    private static HaSettings build(HaSettings applied, DynamicSettings from, DynamicSettings wanted,
            Set<Setting> take) {
        return applied.withDynamic(pick(from, wanted, take));
    }

    private static Set<Setting> present(DynamicSettings d) {
        Set<Setting> out = EnumSet.noneOf(Setting.class);
        for (Setting s : Setting.values()) {
            if (s.get.apply(d) != null) {
                out.add(s);
            }
        }
        return out;
    }

    /** {@code from} with the settings in {@code take} replaced by {@code to}'s; pause from {@code from}. */
    static DynamicSettings pick(DynamicSettings from, DynamicSettings to, Set<Setting> take) {
        Object[] v = new Object[Setting.values().length];
        for (Setting s : Setting.values()) {
            v[s.ordinal()] = (take.contains(s) ? s.get.apply(to) : s.get.apply(from));
        }
        return new DynamicSettings((Duration) v[0], (Duration) v[1], (Duration) v[2], (DataSize) v[3],
                (Duration) v[4], (SynchronousMode) v[5], (Boolean) v[6], (Integer) v[7], (Boolean) v[8],
                (Boolean) v[9], (Boolean) v[10], (Boolean) v[11], (Duration) v[12], from.pause());
    }

    /** The non-empty proper subsets, largest first, in a fixed order (ttl, loop_wait, retry_timeout). */
    private static List<Set<Setting>> subsetsLargestFirst(Set<Setting> all) {
        List<Setting> items = List.copyOf(all);
        List<Set<Setting>> out = new ArrayList<>();
        for (int size = items.size() - 1; size >= 1; size--) {
            for (int mask = 0; mask < (1 << items.size()); mask++) {
                if (Integer.bitCount(mask) != size) {
                    continue;
                }
                Set<Setting> s = EnumSet.noneOf(Setting.class);
                for (int i = 0; i < items.size(); i++) {
                    if ((mask & (1 << i)) != 0) {
                        s.add(items.get(i));
                    }
                }
                out.add(s);
            }
        }
        return out;
    }

    private static String show(Object v) {
        if (v instanceof Duration d) {
            return Durations.format(d);
        }
        if (v instanceof SynchronousMode m) {
            return m.name().toLowerCase(java.util.Locale.ROOT);
        }
        return String.valueOf(v);
    }
}
