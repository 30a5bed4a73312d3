package io.pgha.core.config;

/**
 * Whether the leader keeps a Linux watchdog device ({@code /dev/watchdog}) alive, as Patroni's {@code watchdog.mode}.
 * An armed device resets the host when the agent stops sending keepalives: the cover for what the in-JVM lease guard
 * cannot fence (a pause of the whole JVM, an agent that died while PostgreSQL outlives it). See
 * docs/decisions/0010.
 */
public enum WatchdogMode {
    /** No watchdog (the default). */
    OFF,
    /** Use the device if it is usable; if not, warn once at start and run without it. */
    AUTOMATIC,
    /**
     * The device must be usable: {@code HaCluster.start()} fails otherwise, and a member whose watchdog stops working
     * gives up the leader lock and takes no part in elections until restarted.
     */
    REQUIRED
}
