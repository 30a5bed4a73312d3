package io.pgha.core.config;

import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A member's HA settings, validated. Built with {@link #builder(String, String)}; never clamped: a value that breaks
 * a rule is rejected with a message naming the setting, the rule and the numbers.
 *
 * <p>The settings marked <em>dynamic</em> are cluster-wide: the first member writes them to the DCS {@code config}
 * key at bootstrap, and from then on the DCS values win ({@link #withDynamic}). The others are this member's own.
 *
 * @param scope                   cluster name (local)
 * @param namespace               DCS prefix, default {@code /service} (local)
 * @param name                    this member's unique name (local)
 * @param ttl                     leader lease time to live (dynamic, default 30 s)
 * @param loopWait                pause between HA cycles (dynamic, default 10 s)
 * @param retryTimeout            bound on a DCS or PostgreSQL call before it counts as failed (dynamic, default 10 s)
 * @param maximumLagOnFailover    a replica further behind the leader's last position may not be promoted (dynamic,
 *                                default 1 MB)
 * @param primaryStartTimeout     how long a crashed primary may restart in place before failing over; 0 = fail over
 *                                at once (dynamic, default 300 s)
 * @param synchronousMode         synchronous replication managed by the leader (dynamic, default OFF)
 * @param synchronousModeStrict   with no synchronous standby left, block commits rather than run asynchronously
 *                                (dynamic, default false)
 * @param synchronousNodeCount    how many synchronous standbys (dynamic, default 1)
 * @param failsafeMode            keep the primary when the DCS is down, if every member confirms (dynamic, default
 *                                false)
 * @param checkTimeline           a replica on an older timeline than the cluster may not be promoted (dynamic,
 *                                default false)
 * @param usePgRewind             rewind a diverged node with pg_rewind (dynamic, default true)
 * @param useSlots                the leader keeps a physical replication slot per member and replicas stream through
 *                                theirs ({@code primary_slot_name}) (dynamic, default true, as in Patroni)
 * @param memberSlotsTtl          how long the leader keeps the slot of a member whose key is gone (dynamic, default
 *                                30 min; 0 = drop it at once)
 * @param allowReclone            wipe and re-clone a diverged node when pg_rewind is disabled or fails (local,
 *                                default false: nothing is deleted unless allowed)
 * @param pause                   start the cluster in maintenance mode (written to the DCS at bootstrap only)
 * @param tags                    this member's tags (local)
 * @param switchoverDrain         how long a leader publishes that it is draining before a planned switchover, so that
 *                                routing clients (ha-jdbc) stop borrowing from it and let running transactions end
 *                                (local, default 1 s; 0 = demote at once, as Patroni does)
 * @param bootstrapConfig         further keys the first member writes to the {@code config} key at bootstrap, as
 *                                Patroni copies {@code bootstrap.dcs} whole (e.g. {@code postgresql.parameters},
 *                                {@code postgresql.use_slots}); the typed settings above win over the same keys here
 *                                (default empty)
 */
public record HaSettings(
        String scope,
        String namespace,
        String name,
        Duration ttl,
        Duration loopWait,
        Duration retryTimeout,
        DataSize maximumLagOnFailover,
        Duration primaryStartTimeout,
        SynchronousMode synchronousMode,
        boolean synchronousModeStrict,
        int synchronousNodeCount,
        boolean failsafeMode,
        boolean checkTimeline,
        boolean usePgRewind,
        boolean useSlots,
        Duration memberSlotsTtl,
        boolean allowReclone,
        boolean pause,
        Tags tags,
        Duration switchoverDrain,
        Map<String, Object> bootstrapConfig) {

    /** The longest {@link #switchoverDrain} accepted: the lock is held, but writes wait, for that long. */
    public static final Duration MAX_SWITCHOVER_DRAIN = Duration.ofSeconds(60);

    public HaSettings {
        Names.requireName("scope", scope);
        Names.requireName("name", name);
        namespace = Names.namespace(namespace);
        requirePositive("ttl", ttl);
        requirePositive("loopWait", loopWait);
        requirePositive("retryTimeout", retryTimeout);
        Objects.requireNonNull(maximumLagOnFailover, "maximumLagOnFailover is required");
        Objects.requireNonNull(primaryStartTimeout, "primaryStartTimeout is required");
        if (primaryStartTimeout.isNegative()) {
            throw new IllegalArgumentException(
                    "primaryStartTimeout must be >= 0 (got " + Durations.format(primaryStartTimeout) + ")");
        }
        Objects.requireNonNull(synchronousMode, "synchronousMode is required");
        if (synchronousNodeCount < 1) {
            throw new IllegalArgumentException("synchronousNodeCount must be >= 1 (got " + synchronousNodeCount + ")");
        }
        Objects.requireNonNull(memberSlotsTtl, "memberSlotsTtl is required");
        if (memberSlotsTtl.isNegative()) {
            throw new IllegalArgumentException(
                    "memberSlotsTtl must be >= 0 (got " + Durations.format(memberSlotsTtl) + ")");
        }
        tags = Objects.requireNonNullElse(tags, Tags.DEFAULT);
        Objects.requireNonNull(switchoverDrain, "switchoverDrain is required");
        if (switchoverDrain.isNegative() || switchoverDrain.compareTo(MAX_SWITCHOVER_DRAIN) > 0) {
            throw new IllegalArgumentException("switchoverDrain must be between 0 and "
                    + Durations.format(MAX_SWITCHOVER_DRAIN) + " (got " + Durations.format(switchoverDrain) + ")");
        }
        bootstrapConfig = bootstrapConfig == null ? Map.of()
                : Collections.unmodifiableMap(new LinkedHashMap<>(bootstrapConfig));
        // Rule S1: a primary that cannot renew must have demoted before its lease can expire.
        if (loopWait.plus(retryTimeout.multipliedBy(2)).compareTo(ttl) > 0) {
            throw new IllegalArgumentException("loopWait + 2*retryTimeout must be <= ttl (got "
                    + Durations.format(loopWait) + " + 2*" + Durations.format(retryTimeout) + " > "
                    + Durations.format(ttl) + ")");
        }
    }

    public static Builder builder(String scope, String name) {
        return new Builder().scope(scope).name(name);
    }

    /** A builder with no scope or name yet (set them with {@link Builder#scope} and {@link Builder#name}). */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * These settings with the cluster-wide values from the DCS {@code config} key applied.
     *
     * @throws IllegalArgumentException when the combination breaks a rule; the message starts with {@code config:}
     */
    public HaSettings withDynamic(DynamicSettings d) {
        try {
            return new HaSettings(scope, namespace, name,
                    or(d.ttl(), ttl),
                    or(d.loopWait(), loopWait),
                    or(d.retryTimeout(), retryTimeout),
                    or(d.maximumLagOnFailover(), maximumLagOnFailover),
                    or(d.primaryStartTimeout(), primaryStartTimeout),
                    or(d.synchronousMode(), synchronousMode),
                    or(d.synchronousModeStrict(), synchronousModeStrict),
                    or(d.synchronousNodeCount(), synchronousNodeCount),
                    or(d.failsafeMode(), failsafeMode),
                    or(d.checkTimeline(), checkTimeline),
                    or(d.usePgRewind(), usePgRewind),
                    or(d.useSlots(), useSlots),
                    or(d.memberSlotsTtl(), memberSlotsTtl),
                    allowReclone, pause, tags, switchoverDrain, bootstrapConfig);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("config: " + e.getMessage(), e);
        }
    }

    /** These settings with other tags (the HA loop marks a member whose required watchdog failed nofailover). */
    public HaSettings withTags(Tags t) {
        return new HaSettings(scope, namespace, name, ttl, loopWait, retryTimeout, maximumLagOnFailover,
                primaryStartTimeout, synchronousMode, synchronousModeStrict, synchronousNodeCount, failsafeMode,
                checkTimeline, usePgRewind, useSlots, memberSlotsTtl, allowReclone, pause, t, switchoverDrain,
                bootstrapConfig);
    }

    /** The dynamic settings as the first member writes them to the DCS {@code config} key at bootstrap. */
    public DynamicSettings dynamic() {
        return new DynamicSettings(ttl, loopWait, retryTimeout, maximumLagOnFailover, primaryStartTimeout,
                synchronousMode, synchronousModeStrict, synchronousNodeCount, failsafeMode, checkTimeline,
                usePgRewind, useSlots, memberSlotsTtl, pause ? Boolean.TRUE : null);
    }

    private static <T> T or(T fromCluster, T local) {
        return fromCluster != null ? fromCluster : local;
    }

    private static void requirePositive(String setting, Duration d) {
        if (d == null) {
            throw new IllegalArgumentException(setting + " is required");
        }
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(setting + " must be > 0 (got " + Durations.format(d) + ")");
        }
    }

    /** Fluent builder; {@link #build()} validates. Defaults are Patroni's. */
    public static final class Builder {
        private String scope;
        private String name;
        private String namespace = Names.DEFAULT_NAMESPACE;
        private Duration ttl = Duration.ofSeconds(30);
        private Duration loopWait = Duration.ofSeconds(10);
        private Duration retryTimeout = Duration.ofSeconds(10);
        private DataSize maximumLagOnFailover = DataSize.ofMegabytes(1);
        private Duration primaryStartTimeout = Duration.ofSeconds(300);
        private SynchronousMode synchronousMode = SynchronousMode.OFF;
        private boolean synchronousModeStrict;
        private int synchronousNodeCount = 1;
        private boolean failsafeMode;
        private boolean checkTimeline;
        private boolean usePgRewind = true;
        private boolean useSlots = true;
        private Duration memberSlotsTtl = Duration.ofMinutes(30);
        private boolean allowReclone;
        private boolean pause;
        private Duration switchoverDrain = Duration.ofSeconds(1);
        private Tags tags = Tags.DEFAULT;
        private Map<String, Object> bootstrapConfig = Map.of();

        private Builder() {}

        /** The cluster name (required). */
        public Builder scope(String v) {
            scope = v;
            return this;
        }

        /** This member's unique name (required). */
        public Builder name(String v) {
            name = v;
            return this;
        }

        public Builder namespace(String v) {
            namespace = v;
            return this;
        }

        public Builder ttl(Duration v) {
            ttl = v;
            return this;
        }

        public Builder loopWait(Duration v) {
            loopWait = v;
            return this;
        }

        public Builder retryTimeout(Duration v) {
            retryTimeout = v;
            return this;
        }

        public Builder maximumLagOnFailover(DataSize v) {
            maximumLagOnFailover = v;
            return this;
        }

        public Builder primaryStartTimeout(Duration v) {
            primaryStartTimeout = v;
            return this;
        }

        public Builder synchronousMode(SynchronousMode v) {
            synchronousMode = v;
            return this;
        }

        public Builder synchronousModeStrict(boolean v) {
            synchronousModeStrict = v;
            return this;
        }

        public Builder synchronousNodeCount(int v) {
            synchronousNodeCount = v;
            return this;
        }

        public Builder failsafeMode(boolean v) {
            failsafeMode = v;
            return this;
        }

        public Builder checkTimeline(boolean v) {
            checkTimeline = v;
            return this;
        }

        public Builder usePgRewind(boolean v) {
            usePgRewind = v;
            return this;
        }

        public Builder useSlots(boolean v) {
            useSlots = v;
            return this;
        }

        public Builder memberSlotsTtl(Duration v) {
            memberSlotsTtl = v;
            return this;
        }

        public Builder allowReclone(boolean v) {
            allowReclone = v;
            return this;
        }

        public Builder pause(boolean v) {
            pause = v;
            return this;
        }

        public Builder tags(Tags v) {
            tags = v;
            return this;
        }

        public Builder switchoverDrain(Duration v) {
            switchoverDrain = v;
            return this;
        }

        /** Further keys for the {@code config} key at bootstrap (Patroni's {@code bootstrap.dcs}, as a JSON tree). */
        public Builder bootstrapConfig(Map<String, ?> v) {
            bootstrapConfig = new LinkedHashMap<>(v);
            return this;
        }

        public HaSettings build() {
            return new HaSettings(scope, namespace, name, ttl, loopWait, retryTimeout, maximumLagOnFailover,
                    primaryStartTimeout, synchronousMode, synchronousModeStrict, synchronousNodeCount, failsafeMode,
                    checkTimeline, usePgRewind, useSlots, memberSlotsTtl, allowReclone, pause, tags, switchoverDrain,
                    bootstrapConfig);
        }
    }
}
