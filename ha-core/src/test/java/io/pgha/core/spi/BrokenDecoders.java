package io.pgha.core.spi;

import io.pgha.core.cluster.KeyLayout;

/**
 * The simulation's way into the decoder's package-private broken mode (its broken variants, to prove the checker
 * catches them). Test code only: the mode is not reachable from the library's API.
 */
public final class BrokenDecoders {

    private BrokenDecoders() {}

    /** A decoder that reuses a key's first decoded value whatever its bytes and version say later: a stale memo. */
    public static ClusterViewDecoder reusingByKeyOnly(KeyLayout layout) {
        return new ClusterViewDecoder(layout, true);
    }
}
