package io.pgha.examples.e2e;

import io.pgha.core.testkit.TestFiles;
import java.io.IOException;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Chores the cluster harnesses share ({@link E2eCluster} of pgha agents, {@link PatroniCluster} of Patroni
 * processes): forking member processes so that they die with the test JVM, the HTTP client of their REST APIs, and
 * the teardown that keeps the logs and removes the files.
 */
final class E2eKit {

    /** For REST APIs on loopback: plain HTTP/1.1, a short connect timeout (each request sets its own timeout). */
    static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(2)).build();

    // Linux sends a child's pdeathsig when the *thread* that forked it ends: every member process is forked from this
    // one thread, which lives as long as the test JVM, so members started with `setpriv --pdeathsig KILL` die with
    // the test JVM even when it is killed.
    private static final ExecutorService LAUNCHER = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "e2e-member-launcher");
        t.setDaemon(true);
        return t;
    });

    private E2eKit() {}

    /** Starts {@code pb} on the launcher thread; {@code what} names it in errors. */
    static Process launch(ProcessBuilder pb, String what) throws IOException {
        try {
            return LAUNCHER.submit(pb::start).get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new IOException("cannot start " + what + ": " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            throw new IOException("starting " + what + " took more than 30 s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while starting " + what, e);
        }
    }

    /**
     * The end of a cluster whose processes are stopped already: closes its store, drops its shutdown hook, copies
     * {@code logs} (file name in the copy to the log's path) to {@code target/e2e-logs/<scope>/} (the build's output,
     * for CI artifacts) and removes {@code base}. Never throws.
     */
    static void tearDown(String scope, StoreUnderTest store, Thread cleanupHook, Map<String, Path> logs, Path base) {
        try {
            store.close();
        } catch (RuntimeException e) {
            System.err.println("e2e cleanup of " + store + ": " + e);
        }
        try {
            Runtime.getRuntime().removeShutdownHook(cleanupHook);
        } catch (IllegalStateException e) {
            // The JVM is shutting down: the hook runs anyway.
        }
        keepLogs(scope, logs);
        TestFiles.deleteTree(base);
    }

    /** Copies each existing log to {@code target/e2e-logs/<scope>/<its name in logs>}; never throws. */
    static void keepLogs(String scope, Map<String, Path> logs) {
        Path dest = Path.of(System.getProperty("basedir", "."), "target", "e2e-logs", scope);
        try {
            Files.createDirectories(dest);
            for (Map.Entry<String, Path> e : logs.entrySet()) {
                if (Files.exists(e.getValue())) {
                    Files.copy(e.getValue(), dest.resolve(e.getKey()), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } catch (IOException e) {
            System.err.println("e2e: could not keep the logs in " + dest + ": " + e);
        }
    }
}
