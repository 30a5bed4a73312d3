/**
 * A routing {@link javax.sql.DataSource} that always resolves to the current leader: {@link io.pgha.jdbc.HaDataSource},
 * and the {@code jdbc:pgha:} URL driver {@link io.pgha.jdbc.PghaDriver} built on it.
 *
 * <p>The public surface is {@link io.pgha.jdbc.HaDataSource}, its builder, {@link io.pgha.jdbc.PghaDriver},
 * {@link io.pgha.jdbc.TargetRole} and {@link io.pgha.jdbc.FailoverErrors}. Everything else is package-private: a
 * {@code TopologySource} (store watch, embedded member's status, {@code GET /cluster} poller) produces immutable
 * {@code Topology} snapshots, and the {@code Router} turns each borrow into one HikariCP pool per member.
 */
package io.pgha.jdbc;
