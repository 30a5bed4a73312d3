package io.pgha.core.config;

import java.time.Duration;

/**
 * The cluster-wide ("dynamic") settings as the DCS {@code config} key holds them: each one optional, {@code null}
 * meaning "not set there, use the member's own". {@link HaSettings#withDynamic} applies them; the cluster model reads
 * and writes them in Patroni's JSON ({@code GlobalConfig}).
 */
public record DynamicSettings(
        Duration ttl,
        Duration loopWait,
        Duration retryTimeout,
        DataSize maximumLagOnFailover,
        Duration primaryStartTimeout,
        SynchronousMode synchronousMode,
        Boolean synchronousModeStrict,
        Integer synchronousNodeCount,
        Boolean failsafeMode,
        Boolean checkTimeline,
        Boolean usePgRewind,
        Boolean useSlots,
        Duration memberSlotsTtl,
        Boolean pause) {

    /** Nothing set: every member uses its own settings. */
    public static final DynamicSettings NONE =
            new DynamicSettings(null, null, null, null, null, null, null, null, null, null, null, null, null, null);
}
