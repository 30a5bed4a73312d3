/**
 * <b>Public API:</b> {@link io.pgha.core.postgres.LocalPostgres}, the {@code Postgres} port for a real PostgreSQL on
 * this machine. Everything else here is package-private, one class per responsibility (the postmaster and fencing,
 * the data directory, the probe, the divergence reader, local SQL).
 */
package io.pgha.core.postgres;
