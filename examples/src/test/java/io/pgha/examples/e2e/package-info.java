/**
 * The end-to-end suite: three pgha members, each the standalone agent ({@code AgentMain}) in its own JVM on a real
 * PostgreSQL 15, sharing a real store: ZooKeeper ({@code E2eZooKeeperTest}, curator-test's server in the test JVM),
 * etcd ({@code E2eEtcdTest}, Debian's etcd-server as a process) and the Consul emulator ({@code E2eConsulTest}, a
 * subset; an emulator of Consul's HTTP API, not Consul).
 *
 * <pre>mvn -B -pl examples -am verify -Dtest='E2e*' -Dsurefire.failIfNoSpecifiedTests=false</pre>
 *
 * <p>Each member reaches the store through its own {@link io.pgha.core.testkit.TcpProxy} (to cut exactly that member
 * off) and is reached by the others' replication through a second one (to cut its outgoing WAL). The scenarios, in
 * order on one cluster per store: bootstrap race, switchover, failover, host crash with pg_rewind, pause, a replica
 * lagging beyond {@code maximum_lag_on_failover}, a leader partitioned from the store, patronictl, a host crash in
 * synchronous mode, a member stopped while it takes over, promotions nobody followed (timeline numbers) and a
 * pg_rewind that failed after changing files; every scenario is watched whole for two writable primaries
 * ({@code WritablePrimaryWatch}) and for a history key that loses a timeline number. Needs root (PostgreSQL runs
 * as the {@code postgres} user through setpriv), {@code /usr/lib/postgresql/15/bin} and {@code /usr/bin/etcd}.
 * Everything lives under {@code /tmp/pgha-e2e-<id>} and is removed afterwards; the members' logs are kept in
 * {@code examples/target/e2e-logs/<scope>/}, and printed with the store's contents when a scenario fails.
 *
 * <p>{@code SpringRowsServiceE2eTest} runs the Spring Boot example service ({@code io.pgha.examples.spring}) in the
 * test JVM against its own three-member cluster, through a switchover and a kill -9, on Boot 3.5 and again on Boot 4.0
 * (surefire execution {@code spring-boot-4}, decision 0814).
 */
package io.pgha.examples.e2e;
