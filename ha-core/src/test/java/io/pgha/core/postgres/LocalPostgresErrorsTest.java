package io.pgha.core.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.cluster.PgState;
import io.pgha.core.config.HostPort;
import io.pgha.core.spi.PostgresException;
import io.pgha.core.spi.Upstream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Bad input and faults give clear errors naming the operation, the setting and the cause; nothing is deleted. */
@Tag("postgres")
class LocalPostgresErrorsTest {

    private PgTestEnv env;

    @BeforeEach
    void setUp() throws Exception {
        env = new PgTestEnv();
    }

    @AfterEach
    void tearDown() {
        env.close();
    }

    @Test
    void missingBinariesAreNamed() throws Exception {
        Path nowhere = env.base.resolve("no-such-bin");
        assertThatThrownBy(() -> new LocalPostgres(env.settings("a").binDir(nowhere).build()))
                .isInstanceOf(PostgresException.class).hasMessageContaining("binDir " + nowhere)
                .hasMessageContaining("does not exist");

        Path partial = env.base.resolve("partial-bin");
        Files.createDirectories(partial);
        Files.createSymbolicLink(partial.resolve("postgres"), PgTestEnv.binDir().resolve("postgres"));
        assertThatThrownBy(() -> new LocalPostgres(env.settings("a").binDir(partial).build()))
                .isInstanceOf(PostgresException.class).hasMessageContaining("no executable 'initdb'");
    }

    @Test
    void anUnsupportedVersionIsNamed() throws Exception {
        Path fake = env.base.resolve("old-bin");
        Files.createDirectories(fake);
        for (String b : List.of("postgres", "initdb", "pg_basebackup", "pg_controldata", "pg_waldump", "pg_rewind")) {
            Path f = fake.resolve(b);
            Files.writeString(f, "#!/bin/sh\necho '" + b + " (PostgreSQL) 12.22'\n");
            Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        assertThatThrownBy(() -> new LocalPostgres(env.settings("a").binDir(fake).build()))
                .isInstanceOf(PostgresException.class).hasMessageContaining("PostgreSQL 12.22")
                .hasMessageContaining("13 to 17");
    }

    @Test
    void aMissingRunAsUserIsNamed() throws Exception {
        assertThatThrownBy(() -> new LocalPostgres(env.settings("a").runAsUser("no_such_pgha_user").build()))
                .isInstanceOf(PostgresException.class).hasMessageContaining("no_such_pgha_user")
                .hasMessageContaining("does not exist");
    }

    @Test
    void aNonEmptyDataDirectoryIsRefusedAndLeftAlone() throws Exception {
        LocalPostgres a = env.node("a");
        Path data = a.settings().dataDir();
        Files.createDirectories(data);
        Files.writeString(data.resolve("precious.txt"), "keep me");
        UserPrincipal pg = data.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("postgres");
        Files.setOwner(data, pg);

        assertThatThrownBy(a::bootstrap).isInstanceOf(PostgresException.class)
                .hasMessageContaining("bootstrap").hasMessageContaining("not empty").hasMessageContaining("precious.txt");
        assertThatThrownBy(() -> a.createReplica(new Upstream("x", new HostPort("127.0.0.1", 1))))
                .isInstanceOf(PostgresException.class).hasMessageContaining("not empty");
        assertThat(Files.readString(data.resolve("precious.txt"))).isEqualTo("keep me");
        assertThat(a.probe().dataDir()).isEqualTo(PgState.DataDir.INVALID);
        assertThat(a.probe().detail()).contains("no PG_VERSION");
    }

    @Test
    void aDataDirectoryOwnedBySomeoneElseIsRefused() throws Exception {
        LocalPostgres a = env.node("a");
        Path data = a.settings().dataDir();
        Files.createDirectories(data, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));

        assertThatThrownBy(a::bootstrap).isInstanceOf(PostgresException.class)
                .hasMessageContaining("owned by 'root'").hasMessageContaining("'postgres'");
        assertThat(data).isEmptyDirectory();
    }

    @Test
    void aDirectoryTheOsUserCannotReachIsNamed() throws Exception {
        // Like a checkout under /root: a root-only parent that postgres cannot traverse.
        Path privateParent = env.base.resolve("root-only");
        Files.createDirectories(privateParent);
        Files.setPosixFilePermissions(privateParent, PosixFilePermissions.fromString("rwx------"));
        LocalPostgres a = env.node("a", s -> s.nodeDir(privateParent.resolve("node")));

        assertThatThrownBy(a::bootstrap).isInstanceOf(PostgresException.class)
                .hasMessageContaining("OS user 'postgres' cannot write nodeDir " + privateParent.resolve("node"))
                .hasMessageContaining("traversable");
        assertThat(a.settings().dataDir()).isEmptyDirectory();
    }

    @Test
    void aPortInUseIsNamed() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            LocalPostgres a = env.node("a", s -> s.listen("127.0.0.1", taken.getLocalPort()));
            assertThatThrownBy(a::bootstrap).isInstanceOf(PostgresException.class)
                    .hasMessageContaining("port " + taken.getLocalPort()).hasMessageContaining("already in use")
                    .hasMessageContaining("listenPort");
            assertThat(a.probe().isRunning()).isFalse();
        }
    }

    @Test
    void anInitdbFailureCarriesItsOutput() throws Exception {
        LocalPostgres a = env.node("a", s -> s.initdbArgs(List.of("--locale=xx_NOT_A_LOCALE")));

        assertThatThrownBy(a::bootstrap).isInstanceOf(PostgresException.class)
                .hasMessageContaining("initdb failed").hasMessageContaining("xx_NOT_A_LOCALE");
        assertThat(a.settings().dataDir()).isEmptyDirectory();
    }

    @Test
    void aStartTimeoutCarriesTheLogTailAndLeavesNothingRunning() throws Exception {
        // Every connection stalls 10 s before authentication: the server runs but never answers in time.
        LocalPostgres a = env.node("a", s -> s.startTimeout(Duration.ofSeconds(3)).parameter("pre_auth_delay", "10"));

        assertThatThrownBy(a::bootstrap).isInstanceOf(PostgresException.class)
                .hasMessageContaining("timed out after PT3S").hasMessageContaining("Last log lines")
                .hasMessageContaining("database system is ready to accept connections");
        assertThat(a.postmasterPid()).isEmpty();
    }

    @Test
    void cloningFromAnUnreachableLeaderFailsClearlyAndLeavesAnEmptyDirectory() throws Exception {
        LocalPostgres b = env.node("b");
        Upstream gone = new Upstream("gone", new HostPort("127.0.0.1", PgTestEnv.freePort()));

        assertThatThrownBy(() -> b.createReplica(gone)).isInstanceOf(PostgresException.class)
                .hasMessageContaining("create replica from gone").hasMessageContaining("pg_basebackup failed")
                .hasMessageContaining("Connection refused");
        assertThat(b.settings().dataDir()).isEmptyDirectory();
        assertThat(b.probe().dataDir()).isEqualTo(PgState.DataDir.EMPTY);
    }

    @Test
    void operationsOnAStoppedOrEmptyNodeSayWhy() throws Exception {
        LocalPostgres a = env.node("a");
        assertThatThrownBy(a::startPrimary).isInstanceOf(PostgresException.class).hasMessageContaining("is empty");
        assertThatThrownBy(() -> a.setSynchronousStandbyNames("x")).isInstanceOf(PostgresException.class)
                .hasMessageContaining("not running");
        assertThatThrownBy(() -> a.reclone(new Upstream("x", new HostPort("127.0.0.1", 1))))
                .isInstanceOf(PostgresException.class).hasMessageContaining("allowReclone is off");
        assertThat(a.checkDivergence(new Upstream("x", new HostPort("127.0.0.1", 1))).detail())
                .contains("no data directory");
    }
}
