package io.pgha.core.internal.ha;

/**
 * How other members and clients reach this member; published in its member key.
 *
 * @param connUrl {@code postgres://host:port/postgres}
 * @param apiUrl  {@code http://host:port/patroni}, or null when the member runs no REST API
 */
public record MemberEndpoints(String connUrl, String apiUrl) {}
