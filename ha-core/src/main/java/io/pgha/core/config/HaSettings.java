package io.pgha.core.config;

import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.cluster.KeyLayout;
import java.time.Duration;
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
 * @param allowReclone            wipe and re-clone a diverged node when pg_rewind is disabled or fails (local,
 *                                default false: nothing is deleted unless allowed)
 * @param pause                   start the cluster in maintenance mode (written to the DCS at bootstrap only)
 * @param tags                    this member's tags (local)
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
        boolean allowReclone,
        boolean pause,
        Tags tags) {

    public HaSettings {
        requireName("scope", scope);
        requireName("name", name);
        namespace = new KeyLayout(namespace, scope).namespace();
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
        tags = Objects.requireNonNullElse(tags, Tags.DEFAULT);
        // Rule S1: a primary that cannot renew must have demoted before its lease can expire.
        if (loopWait.plus(retryTimeout.multipliedBy(2)).compareTo(ttl) > 0) {
            throw new IllegalArgumentException("loopWait + 2*retryTimeout must be <= ttl (got "
                    + Durations.format(loopWait) + " + 2*" + Durations.format(retryTimeout) + " > "
                    + Durations.format(ttl) + ")");
        }
    }

    public static Builder builder(String scope, String name) {
        return new Builder(scope, name);
    }

    public KeyLayout layout() {
        return new KeyLayout(namespace, scope);
    }

    /**
     * These settings with the cluster-wide values from the DCS {@code config} key applied.
     *
     * @throws IllegalArgumentException when the combination breaks a rule; the message starts with {@code config:}
     */
    public HaSettings withDynamic(GlobalConfig c) {
        if (c.isAbsent()) {
            return this;
        }
        try {
            return new HaSettings(scope, namespace, name,
                    c.ttl().orElse(ttl),
                    c.loopWait().orElse(loopWait),
                    c.retryTimeout().orElse(retryTimeout),
                    c.maximumLagOnFailover().map(DataSize::ofBytes).orElse(maximumLagOnFailover),
                    c.primaryStartTimeout().orElse(primaryStartTimeout),
                    c.synchronousMode().orElse(synchronousMode),
                    c.synchronousModeStrict().orElse(synchronousModeStrict),
                    c.synchronousNodeCount().orElse(synchronousNodeCount),
                    c.failsafeMode().orElse(failsafeMode),
                    c.checkTimeline().orElse(checkTimeline),
                    c.usePgRewind().orElse(usePgRewind),
                    allowReclone, pause, tags);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("config: " + e.getMessage(), e);
        }
    }

    /** The dynamic settings as the JSON document written to the DCS {@code config} key at bootstrap. */
    public GlobalConfig bootstrapConfig() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("ttl", Durations.toSeconds(ttl));
        m.put("loop_wait", Durations.toSeconds(loopWait));
        m.put("retry_timeout", Durations.toSeconds(retryTimeout));
        m.put("maximum_lag_on_failover", maximumLagOnFailover.bytes());
        m.put("primary_start_timeout", Durations.toSeconds(primaryStartTimeout));
        m.put("synchronous_mode", synchronousMode == SynchronousMode.ON);
        m.put("synchronous_mode_strict", synchronousModeStrict);
        m.put("synchronous_node_count", synchronousNodeCount);
        m.put("failsafe_mode", failsafeMode);
        m.put("check_timeline", checkTimeline);
        if (pause) {
            m.put("pause", true);
        }
        m.put("postgresql", Map.of("use_pg_rewind", usePgRewind));
        return GlobalConfig.of(m);
    }

    private static void requireName(String setting, String v) {
        if (v == null || v.isBlank()) {
            throw new IllegalArgumentException(setting + " is required");
        }
        for (int i = 0; i < v.length(); i++) {
            char ch = v.charAt(i);
            if (ch == '/' || Character.isWhitespace(ch) || Character.isISOControl(ch)) {
                throw new IllegalArgumentException(
                        setting + " must not contain '/', spaces or control characters (got '" + v + "')");
            }
        }
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
        private final String scope;
        private final String name;
        private String namespace = KeyLayout.DEFAULT_NAMESPACE;
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
        private boolean allowReclone;
        private boolean pause;
        private Tags tags = Tags.DEFAULT;

        private Builder(String scope, String name) {
            this.scope = scope;
            this.name = name;
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

        public HaSettings build() {
            return new HaSettings(scope, namespace, name, ttl, loopWait, retryTimeout, maximumLagOnFailover,
                    primaryStartTimeout, synchronousMode, synchronousModeStrict, synchronousNodeCount, failsafeMode,
                    checkTimeline, usePgRewind, allowReclone, pause, tags);
        }
    }
}
