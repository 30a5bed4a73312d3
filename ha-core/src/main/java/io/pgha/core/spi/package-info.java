/**
 * <b>Public API for adapter authors.</b> The two ports the HA core drives, {@code Dcs} (with {@code KeyValueDcs}, the
 * Patroni JSON codec and the plumbing every store adapter shares: dispatcher, call guard, idle-lease rule) and
 * {@code Postgres} (with {@code PgState} in {@code cluster}). Implementations must pass the test kit's
 * {@code DcsContractTest} or {@code PostgresContractTest}.
 */
package io.pgha.core.spi;
