package io.pgha.core.config;

import java.util.Locale;

/**
 * Whether the TLS REST API asks clients for a certificate signed by its CA ({@code restapi.verify_client}).
 */
public enum VerifyClient {
    /** No client certificate is asked for. */
    NONE,
    /**
     * A certificate is asked for but not demanded by TLS; a request that changes something (POST, PUT, PATCH,
     * DELETE) without one is answered 403, as in Patroni. A certificate that is presented must be valid.
     */
    OPTIONAL,
    /** The TLS handshake fails without a valid client certificate: nothing is answered without one. */
    REQUIRED;

    /** Patroni's spelling ({@code none}, {@code optional}, {@code required}, any case); {@code key} names the setting. */
    public static VerifyClient parse(String value, String key) {
        String v = value == null ? "" : value.trim().toLowerCase(Locale.ROOT);
        return switch (v) {
            case "none" -> NONE;
            case "optional" -> OPTIONAL;
            case "required" -> REQUIRED;
            default -> throw new IllegalArgumentException(key + ": expected none, optional or required, got '" + value
                    + "'");
        };
    }
}
