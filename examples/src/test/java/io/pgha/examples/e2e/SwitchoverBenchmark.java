package io.pgha.examples.e2e;

import static org.awaitility.Awaitility.await;

import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.testkit.TestFiles;
import io.pgha.jdbc.HaDataSource;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Not a test: a runnable measurement of issue 10's "leader key change to the first successful write through
 * HaDataSource", over many switchovers of a local three-member cluster (the end-to-end suite's {@link E2eCluster}:
 * agent processes on real PostgreSQL 15, a real store).
 *
 * <p>One writer commits through the DataSource without pause (1 ms between transactions). A poller reads the store
 * every 5 ms; the new leader key appeared after the start of the last read that did not show it and before the end of
 * the first one that did. "key → write" is measured from that start, so it is an upper bound, too high by at most the
 * "resolution" column. It includes the candidate's promotion, which follows the key; the same poller then asks the
 * candidate {@code pg_is_in_recovery()} every 5 ms, and "writable → write" (the routing's own share) is bounded
 * the same way. The write gap is the time between the last commit on the old leader and the first on the new
 * one; it includes the cooperative drain ({@code switchoverDrain}, 1 s) and the promotion.
 *
 * <pre>
 * mvn -B -DskipTests -pl examples -am package
 * java -cp examples/target/test-classes:examples/target/classes:$(cat examples/target/test-classpath.txt) \
 *     io.pgha.examples.e2e.SwitchoverBenchmark [etcd|zookeeper|consul] [switchovers, default 20]
 * </pre>
 */
public final class SwitchoverBenchmark {

    private record Sample(String from, String to, double keyToWriteMs, double resolutionMs, double promotedToWriteMs,
            double promotedResolutionMs, double requestToWriteMs, double gapMs) {}

    private SwitchoverBenchmark() {}

    public static void main(String[] args) throws Exception {
        String storeName = args.length > 0 ? args[0] : "etcd";
        int switchovers = args.length > 1 ? Integer.parseInt(args[1]) : 20;
        if (switchovers < 1) {
            throw new IllegalArgumentException("switchovers must be >= 1 (got " + switchovers + ")");
        }
        Path base = TestFiles.shortTempDir("pgha-bench");
        StoreUnderTest store = switch (storeName) {
            case "etcd" -> new EtcdStore(base);
            case "zookeeper" -> new ZooKeeperStore();
            case "consul" -> new ConsulStore();
            default -> throw new IllegalArgumentException("store must be etcd, zookeeper or consul (got " + storeName
                    + ")");
        };
        List<Sample> samples = new ArrayList<>();
        int failures;
        try (E2eCluster cluster = E2eCluster.create(store, base, "bench-" + store.section(), 3)) {
            cluster.startAll();
            AgentProcess leader = cluster.awaitHealthy(Duration.ofSeconds(120));
            Sql.createRoutedTable(leader);
            try (Dcs dcs = store.openReadOnly(cluster.scope, "bench-jdbc");
                    HaDataSource ds = HaDataSource.builder().dcs(dcs).user("postgres")
                            .password(leader.superuserPassword()).hikari(h -> h.setMaximumPoolSize(4))
                            .leaderWait(Duration.ofSeconds(30)).name("bench").build();
                    RoutedWriter writer = new RoutedWriter(ds, "bench", Duration.ofMillis(1), Duration.ofHours(2))) {
                AgentProcess first = leader;
                await("first commits").atMost(Duration.ofSeconds(30)).until(() -> writer.commitsOn(first.pgPort) > 10);
                for (int i = 0; i < switchovers; i++) {
                    leader = cluster.awaitHealthy(Duration.ofSeconds(90));
                    AgentProcess candidate = cluster.others(leader).get(i % 2);
                    Sample s = switchOver(cluster, writer, leader, candidate);
                    samples.add(s);
                    System.out.printf("bench: %2d %s -> %s: key -> write %.1f ms (resolution %.1f), promoted -> write"
                            + " %.1f ms (resolution %.1f), request -> write %.0f ms, write gap %.0f ms%n", i + 1,
                            s.from(), s.to(), s.keyToWriteMs(), s.resolutionMs(), s.promotedToWriteMs(),
                            s.promotedResolutionMs(), s.requestToWriteMs(), s.gapMs());
                }
                writer.close();
                failures = writer.failures().size();
            }
        }
        print(storeName, samples, failures);
    }

    private static Sample switchOver(E2eCluster cluster, RoutedWriter writer, AgentProcess leader,
            AgentProcess candidate) throws Exception {
        AtomicLong lastNotSeenStart = new AtomicLong();
        AtomicLong firstSeenEnd = new AtomicLong();
        long requested;
        RoutedWriter.Commit first;
        AtomicLong lastInRecoveryStart = new AtomicLong();
        AtomicLong firstWritableEnd = new AtomicLong();
        try (Poller keyWatch = new Poller("bench-key-watch", Duration.ofMillis(5), Duration.ofMinutes(2), () -> {
            long start = System.nanoTime();
            try {
                if (firstSeenEnd.get() == 0) {
                    Optional<String> holder = cluster.leaderName();
                    if (holder.isPresent() && holder.get().equals(candidate.name)) {
                        firstSeenEnd.set(System.nanoTime());
                    } else {
                        lastNotSeenStart.set(start);
                    }
                } else if (firstWritableEnd.get() == 0) {
                    // Then its promotion: the first write cannot come before it, whatever the routing does.
                    if (Sql.inRecovery(candidate)) {
                        lastInRecoveryStart.set(start);
                    } else {
                        firstWritableEnd.set(System.nanoTime());
                    }
                }
            } catch (DcsUnavailableException | SQLException e) {
                // Unknown: no bound moves.
            }
        }, () -> { })) {
            await("the key watch's first read").atMost(Duration.ofSeconds(10)).until(() -> lastNotSeenStart.get() != 0);
            requested = System.nanoTime();
            AgentProcess.Reply r = leader.post("/switchover",
                    "{\"leader\": \"" + leader.name + "\", \"candidate\": \"" + candidate.name + "\"}");
            if (r.status() != 200) {
                throw new IllegalStateException("POST /switchover answered " + r.status() + ": " + r.body());
            }
            first = await("a commit on " + candidate.name).atMost(Duration.ofSeconds(60))
                    .pollInterval(Duration.ofMillis(20))
                    .until(() -> writer.firstCommitOn(candidate.pgPort, requested), Optional::isPresent).orElseThrow();
            await("the new leader key seen").atMost(Duration.ofSeconds(10)).until(() -> firstSeenEnd.get() != 0);
            await("the promotion seen").atMost(Duration.ofSeconds(10)).until(() -> firstWritableEnd.get() != 0);
        }
        // Promoted after the start of the last poll that found it in recovery (or after the key, if none did).
        long promoted = Math.max(lastInRecoveryStart.get(), lastNotSeenStart.get());
        long lastOld = writer.lastCommitOn(leader.pgPort, first.returnedNanos()).orElseThrow().returnedNanos();
        return new Sample(leader.name, candidate.name, ms(first.returnedNanos() - lastNotSeenStart.get()),
                ms(firstSeenEnd.get() - lastNotSeenStart.get()), ms(first.returnedNanos() - promoted),
                ms(firstWritableEnd.get() - promoted), ms(first.returnedNanos() - requested),
                ms(first.returnedNanos() - lastOld));
    }

    private static double ms(long nanos) {
        return nanos / 1e6;
    }

    private static void print(String store, List<Sample> samples, int failures) {
        System.out.println();
        System.out.printf("%d switchovers on %s, 3 members, switchoverDrain 1 s; writer failures: %d%n",
                samples.size(), store, failures);
        System.out.println("| measure | median | max |");
        System.out.println("|---|---|---|");
        row("new leader key -> first write through HaDataSource (upper bound)", samples.stream()
                .map(Sample::keyToWriteMs).toList());
        row("  its resolution (key seen between two reads)", samples.stream().map(Sample::resolutionMs).toList());
        row("new leader writable (pg_is_in_recovery false) -> first write (upper bound)", samples.stream()
                .map(Sample::promotedToWriteMs).toList());
        row("  its resolution", samples.stream().map(Sample::promotedResolutionMs).toList());
        row("switchover request -> first write on the new leader", samples.stream()
                .map(Sample::requestToWriteMs).toList());
        row("write gap (last commit on the old leader -> first on the new)", samples.stream()
                .map(Sample::gapMs).toList());
    }

    private static void row(String what, List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        double median = sorted.size() % 2 == 1 ? sorted.get(sorted.size() / 2)
                : (sorted.get(sorted.size() / 2 - 1) + sorted.get(sorted.size() / 2)) / 2;
        System.out.printf("| %s | %.0f ms | %.0f ms |%n", what, median, sorted.get(sorted.size() - 1));
    }
}
