package io.pgha.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.cluster.Role;
import io.pgha.core.testkit.TestPorts;
import io.pgha.dcs.zookeeper.ZooKeeperDcs;
import io.pgha.dcs.zookeeper.ZooKeeperSettings;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Micrometer is optional: a JVM whose class path lacks it builds an HaDataSource and gets a connection. The child JVM
 * runs {@link #main} with this test's class path minus Micrometer's jars.
 */
@Timeout(180)
class NoMicrometerTest {

    @Test
    void theDataSourceWorksWithoutMicrometerOnTheClassPath() throws Exception {
        try (TestingServer zk = new TestingServer(new InstanceSpec(null, TestPorts.freePort(), -1, -1, true, -1, 200,
                -1, Map.of("maxSessionTimeout", "60000")), true);
             PgPair pg = new PgPair();
             MemberKeys a = new MemberKeys(ZooKeeperDcs.connect(ZooKeeperSettings.builder(zk.getConnectString())
                     .standalone().build()), "nomm", "a")) {
            a.publish(Role.PRIMARY, PgPair.connUrl(pg.a), 1);
            a.lead();
            String cp = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                    .filter(e -> !e.contains("micrometer")).collect(Collectors.joining(File.pathSeparator));
            assertThat(cp).doesNotContain("micrometer");
            Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                    cp, NoMicrometerTest.class.getName(), zk.getConnectString(), PgPair.PASSWORD)
                    .redirectErrorStream(true).start();
            try {
                assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertThat(p.exitValue()).as(out).isZero();
                assertThat(out).contains("port=" + PgPair.port(pg.a)).contains("micrometer absent");
            } finally {
                p.destroyForcibly();
            }
        }
    }

    /** The child: checks Micrometer is really absent, then borrows one connection. */
    public static void main(String[] args) throws Exception {
        try {
            Class.forName("io.micrometer.core.instrument.MeterRegistry");
            System.out.println("micrometer present");
            System.exit(2);
        } catch (ClassNotFoundException e) {
            System.out.println("micrometer absent");
        }
        try (HaDataSource ds = HaDataSource.builder()
                .dcs(ZooKeeperDcs.connect(ZooKeeperSettings.builder(args[0]).standalone().build()), "nomm")
                .user("postgres").password(args[1]).leaderWait(Duration.ofSeconds(30)).build();
             Connection c = ds.getConnection(); Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT inet_server_port()")) {
            r.next();
            System.out.println("port=" + r.getInt(1));
        }
        System.exit(0);
    }
}
