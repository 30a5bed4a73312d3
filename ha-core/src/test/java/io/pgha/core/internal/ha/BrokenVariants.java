package io.pgha.core.internal.ha;

/**
 * The simulation's way into the package-private hooks that break the HA loop on purpose (its broken variants, to
 * prove the checker catches them). Test code only: the hooks are not reachable from the library's API.
 */
public final class BrokenVariants {

    private BrokenVariants() {}

    /** A change of the config key never invalidates the loop's config cache: the key as first read stays in force. */
    public static void neverInvalidateConfigCache(HaLoop loop) {
        loop.neverInvalidateResolvedConfig();
    }
}
