package io.pgha.core.postgres;

import io.pgha.core.config.PostgresSettings;
import java.nio.file.Path;

/**
 * Run in a child JVM by {@link LocalPostgresJvmTieTest}: bootstraps a server with the given directories and port,
 * prints its postmaster PID, then waits to be killed.
 */
public final class JvmDeathChild {

    private JvmDeathChild() {}

    public static void main(String[] args) throws Exception {
        PostgresSettings s = PostgresSettings.builder().memberName("child").binDir(Path.of(args[0]))
                .dataDir(Path.of(args[1])).nodeDir(Path.of(args[2])).listen("127.0.0.1", Integer.parseInt(args[3]))
                .superuser("postgres", args[4]).replication("replicator", args[4])
                .parameter("shared_buffers", "16MB").parameter("fsync", "off")
                .initdbArgs(java.util.List.of("--encoding=UTF8", "--locale=C", "--no-sync")).build();
        LocalPostgres pg = new LocalPostgres(s);
        pg.bootstrap();
        System.out.println("PID " + pg.postmasterPid().orElseThrow());
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
