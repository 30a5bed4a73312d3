/**
 * A routing {@link javax.sql.DataSource} that always resolves to the current leader: {@link io.pgha.jdbc.HaDataSource}.
 *
 * <p>The public surface is {@link io.pgha.jdbc.HaDataSource}, its builder, {@link io.pgha.jdbc.TargetRole} and
 * {@link io.pgha.jdbc.FailoverErrors}. Everything else is package-private: a {@code TopologySource} (store watch,
 * embedded member's status, later a REST poller) produces immutable {@code Topology} snapshots, and the
 * {@code Router} turns each borrow into one HikariCP pool per member.
 */
package io.pgha.jdbc;
