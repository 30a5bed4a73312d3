package io.pgha.examples.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgha.core.testkit.TestFiles;
import io.pgha.core.testkit.TestPorts;
import io.pgha.examples.spring.RowsApplication;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.boot.SpringBootVersion;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The Spring Boot example service ({@link RowsApplication}, configured only by {@code pgha.datasource.*} properties)
 * in this JVM on its embedded web server, in front of a real three-member cluster (agent processes, PostgreSQL 15,
 * in-JVM ZooKeeper) in synchronous mode. A client ({@link RowsTraffic}) posts a row every 20 ms and reads an older
 * one after each; the cluster goes through a switchover and then a kill -9 of the new leader's agent and PostgreSQL.
 * Run by surefire on Boot 3.5 and again on Boot 4.0 (execution {@code spring-boot-4}); each run checks which line it
 * got.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class SpringRowsServiceE2eTest {

    /** Room on top of ttl + loop_wait for the failover to reach the service: a loaded two-core machine. */
    private static final Duration SLACK = Duration.ofSeconds(20);

    @Test
    void theServiceAnswersAcrossASwitchoverRecoversFromAKill9AndLosesNoAcknowledgedWrite() throws Exception {
        String boot = checkBootLine();
        System.out.println("e2e spring: Spring Boot " + boot);
        Path base = TestFiles.shortTempDir("pgha-boot");
        ZooKeeperStore store;
        try {
            store = new ZooKeeperStore();
        } catch (Exception | Error e) {
            TestFiles.deleteTree(base);
            throw e;
        }
        try (E2eCluster cluster = E2eCluster.create(store, base, "e2e-boot", 3)) {
            try {
                run(cluster, store);
            } catch (Exception | Error e) {
                System.out.println(cluster.diagnostics());
                throw e;
            }
        }
    }

    private static void run(E2eCluster cluster, ZooKeeperStore store) throws Exception {
        cluster.startAll();
        AgentProcess first = cluster.awaitHealthy(Duration.ofSeconds(120));
        AgentProcess.Reply on = first.patch("/config", "{\"synchronous_mode\": true}");
        assertThat(on.status()).as("PATCH /config answered " + on.body()).isEqualTo(200);
        awaitSynchronous(cluster, first);

        int httpPort = TestPorts.freePort();
        // Command-line arguments, as the README runs it: nothing but properties.
        String[] args = {"--server.address=127.0.0.1", "--server.port=" + httpPort,
                "--pgha.datasource.scope=" + cluster.scope, "--pgha.datasource.dcs.type=zookeeper",
                "--pgha.datasource.dcs.hosts=" + store.host() + ":" + store.port(),
                "--pgha.datasource.dcs.settings.standalone=true", "--pgha.datasource.username=postgres",
                "--pgha.datasource.password=" + first.superuserPassword(),
                // max_connections is 40 on each member, shared with the agents and replication.
                "--pgha.datasource.hikari.maximum-pool-size=4", "--spring.main.banner-mode=off"};
        Duration bound = cluster.timings.failoverBound(SLACK);
        AgentProcess second = cluster.others(first).get(0);
        AgentProcess third;
        long switchoverAsked;
        long switchedOver;
        long killStart;
        long recoveredAt;
        RowsTraffic.Answer firstAfterKill;
        List<RowsTraffic.Answer> answers;
        try (ConfigurableApplicationContext app = new SpringApplicationBuilder(RowsApplication.class).run(args);
                RowsTraffic traffic = new RowsTraffic(URI.create("http://127.0.0.1:" + httpPort),
                        Duration.ofMillis(20), Duration.ofMinutes(4))) {
            await("acknowledged writes and reads through the service").atMost(Duration.ofSeconds(60))
                    .pollInterval(Duration.ofMillis(100))
                    .until(() -> traffic.count(a -> a.write() && a.ok() && a.port() == first.pgPort) >= 50
                            && traffic.count(a -> !a.write() && a.ok()) >= 20);

            // 1. A switchover: writes only wait for the new leader (drain), none fails.
            switchoverAsked = System.nanoTime();
            AgentProcess.Reply r = first.post("/switchover",
                    "{\"leader\": \"" + first.name + "\", \"candidate\": \"" + second.name + "\"}");
            assertThat(r.status()).as("POST /switchover answered " + r.body()).isEqualTo(200);
            long onSecond = await("a write acknowledged by " + second.name).atMost(Duration.ofSeconds(60))
                    .pollInterval(Duration.ofMillis(50))
                    .until(() -> traffic.first(a -> a.write() && a.ok() && a.port() == second.pgPort
                            && a.endedNanos() - switchoverAsked > 0), java.util.Optional::isPresent)
                    .orElseThrow().endedNanos();
            await("writes on " + second.name + " after the switchover").atMost(Duration.ofSeconds(30))
                    .until(() -> traffic.count(a -> a.write() && a.ok() && a.endedNanos() - onSecond > 0) >= 20);
            // The old leader rejoins and becomes a synchronous standby again before the crash.
            assertThat(cluster.awaitHealthy(Duration.ofSeconds(90))).isEqualTo(second);
            awaitSynchronous(cluster, second);
            switchedOver = System.nanoTime();

            // 2. kill -9 of the new leader's agent and PostgreSQL, as a host crash (its proxy's connections reset).
            List<AgentProcess> survivors = cluster.others(second);
            killStart = System.nanoTime();
            second.crash();
            long killed = System.nanoTime();
            second.pgProxy.reset();
            third = cluster.awaitNewLeader(survivors, bound);
            firstAfterKill = await("a write acknowledged by " + third.name + " after the kill").atMost(bound)
                    .pollInterval(Duration.ofMillis(50))
                    .until(() -> traffic.first(a -> a.write() && a.ok() && a.port() == third.pgPort
                            && a.startedNanos() - killed > 0), java.util.Optional::isPresent)
                    .orElseThrow();
            recoveredAt = firstAfterKill.endedNanos();
            await("writes and replica reads after the failover").atMost(Duration.ofSeconds(60))
                    .pollInterval(Duration.ofMillis(100))
                    .until(() -> traffic.count(a -> a.write() && a.ok() && a.endedNanos() - recoveredAt > 0) >= 20
                            && traffic.count(a -> !a.write() && a.ok() && a.inRecovery()
                                    && a.endedNanos() - recoveredAt > 0) >= 5);
            traffic.close();
            answers = traffic.answers();
            // GET /rows/count: a read-only transaction too, so a replica counts.
            HttpResponse<String> counted = E2eKit.HTTP.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + httpPort + "/rows/count")).timeout(Duration.ofSeconds(45))
                    .GET().build(), HttpResponse.BodyHandlers.ofString());
            assertThat(counted.statusCode()).as("GET /rows/count answered " + counted.body()).isEqualTo(200);
            JsonNode count = new ObjectMapper().readTree(counted.body());
            assertThat(count.path("inRecovery").asBoolean()).as("GET /rows/count served by a replica: " + count)
                    .isTrue();
            assertThat(count.path("count").asLong()).as("rows counted").isPositive();
        }

        List<RowsTraffic.Answer> writes = answers.stream().filter(RowsTraffic.Answer::write).toList();
        List<RowsTraffic.Answer> reads = answers.stream().filter(a -> !a.write()).toList();
        Set<Long> acknowledged = writes.stream().filter(RowsTraffic.Answer::ok).map(RowsTraffic.Answer::id)
                .collect(Collectors.toSet());
        Set<Long> onLeader = Sql.ids(third, "pgha_example_rows");
        Duration recovery = Duration.ofNanos(recoveredAt - killStart);
        long switchoverGap = gap(writes, switchoverAsked, switchedOver);
        System.out.printf("e2e spring (Boot %s): %d writes (%d acknowledged), %d reads (%d answered 200, %d 404);"
                + " switchover %s -> %s: longest write %d ms; kill -9 of %s: first write acknowledged by %s after"
                + " %d ms (bound %d s); failed requests by status: %s%n", SpringBootVersion.getVersion(), writes.size(), acknowledged.size(),
                reads.size(), reads.stream().filter(RowsTraffic.Answer::ok).count(),
                reads.stream().filter(a -> a.status() == 404).count(), first.name, second.name, switchoverGap,
                second.name, third.name, recovery.toMillis(), bound.toSeconds(), failures(answers));

        // Across the switchover (everything answered before the kill) no request failed: writes only waited. A request
        // still in flight when the kill came belongs to the failover's window, as the ones after it.
        assertThat(answers).as("requests that failed (5xx or no answer) before the kill")
                .noneMatch(a -> a.serverError() && a.endedNanos() - killStart < 0);
        // After the kill -9, the service answers writes again within ttl + loop_wait + slack.
        assertThat(recovery).as("kill -9 to the first write acknowledged by the new leader").isLessThan(bound);
        // Failures only in the failover's window, and only the service's "try again" answer or a request cut off.
        assertThat(answers).as("requests that failed after the service recovered")
                .noneMatch(a -> a.serverError() && a.startedNanos() - recoveredAt > 0);
        // Synchronous mode: every acknowledged write is on the final leader.
        assertThat(onLeader).as("rows on the final leader " + third.name).containsAll(acknowledged);
        // Read-only transactions go to replicas: every read answered before the switchover was served by a server in
        // recovery, never by the leader; after the failover, replicas serve reads again.
        List<RowsTraffic.Answer> steadyReads = reads.stream()
                .filter(a -> a.ok() && a.endedNanos() - switchoverAsked < 0).toList();
        assertThat(steadyReads).as("reads before the switchover").isNotEmpty()
                .allMatch(RowsTraffic.Answer::inRecovery, "served by a server in recovery")
                .noneMatch(a -> a.port() == first.pgPort);
        assertThat(reads).as("reads after the failover served by a replica")
                .anyMatch(a -> a.ok() && a.inRecovery() && a.port() != third.pgPort
                        && a.endedNanos() - recoveredAt > 0);
    }

    /** Waits until {@code leader}'s commits wait for a standby named in the sync key. */
    private static void awaitSynchronous(E2eCluster cluster, AgentProcess leader) {
        await("the sync key lists a synchronous standby of " + leader.name).atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(200)).ignoreExceptions()
                .until(() -> leader.name.equals(cluster.view().sync().leader())
                        && !cluster.view().sync().standbys().isEmpty()
                        && !Sql.setting(leader, "synchronous_standby_names").isEmpty());
    }

    /** The longest write (asked to answered) that started between {@code from} and {@code to}, in ms. */
    private static long gap(List<RowsTraffic.Answer> writes, long from, long to) {
        return writes.stream().filter(a -> a.startedNanos() - from > 0 && a.startedNanos() - to < 0)
                .mapToLong(a -> (a.endedNanos() - a.startedNanos()) / 1_000_000).max().orElse(0);
    }

    /** Failed requests by status (-1: no answer), with the first body, for the log. */
    private static String failures(List<RowsTraffic.Answer> answers) {
        Map<Integer, Long> byStatus = new TreeMap<>();
        answers.stream().filter(RowsTraffic.Answer::serverError).forEach(a -> byStatus.merge(a.status(), 1L,
                Long::sum));
        return byStatus + answers.stream().filter(RowsTraffic.Answer::serverError).findFirst()
                .map(a -> ", first: " + a.body()).orElse("");
    }

    /** The Boot major version on the class path is the one this surefire run is for ({@code pgha.expectBoot}). */
    private static String checkBootLine() {
        String expected = System.getProperty("pgha.expectBoot", "3");
        String version = SpringBootVersion.getVersion();
        if (version == null || !version.startsWith(expected + ".")) {
            throw new IllegalStateException("this run is for Spring Boot " + expected + ".x but found " + version);
        }
        return version;
    }

}
