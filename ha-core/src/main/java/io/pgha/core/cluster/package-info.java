/**
 * <b>Public API.</b> The cluster model: what the DCS holds ({@code ClusterView} and its keys, in Patroni's meaning),
 * what a probe of PostgreSQL finds ({@code PgState}), and what a member publishes about itself ({@code NodeStatus}).
 * Immutable values; the JDK and {@code config} only.
 */
package io.pgha.core.cluster;
