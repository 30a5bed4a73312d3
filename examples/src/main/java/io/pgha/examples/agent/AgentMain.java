package io.pgha.examples.agent;

import io.pgha.core.api.HaCluster;
import io.pgha.core.cluster.Role;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The standalone agent: one member per JVM, configured from a Patroni-style YAML file.
 *
 * <pre>java -jar examples/target/pgha-agent.jar member.yaml</pre>
 *
 * (the build's runnable jar, decision 0607; or {@code java -cp <class path> io.pgha.examples.agent.AgentMain}).
 *
 * It runs until SIGTERM/SIGINT, then closes the member (PostgreSQL stopped before the lock is released). SIGHUP
 * reloads, as {@code POST /reload} does ({@link SighupReload}; only this main installs that handler). Exit
 * status 2: the configuration is wrong (the message says which key and why); 1: the member did not start or closed
 * itself (its REST port was taken, another live process uses its member name, its HA loop could not start; the
 * message or the log says why).
 */
public final class AgentMain {

    static final String COMMON_POOL_PARALLELISM = "java.util.concurrent.ForkJoinPool.common.parallelism";

    static {
        // With 2 cores or fewer the common pool's parallelism is 1, and CompletableFuture then runs every async step
        // on a new thread: the JDK's HttpClient.sendAsync does one per response (etcd, Consul, the peers), several a
        // second at idle. The agent owns its JVM, so it keeps a small pool instead (decision 0609); an application
        // embedding pgha decides this for its own JVM. Set before anything touches the pool.
        if (System.getProperty(COMMON_POOL_PARALLELISM) == null && Runtime.getRuntime().availableProcessors() <= 2) {
            System.setProperty(COMMON_POOL_PARALLELISM, "2");
        }
    }

    private static final Logger LOG = LoggerFactory.getLogger(AgentMain.class);

    static final String USAGE = "usage: java -jar pgha-agent.jar <member.yaml>   (or no argument with"
            + " PATRONI_CONFIGURATION set); PATRONI_* variables override the file, as in Patroni";

    private AgentMain() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> env = System.getenv();
        if (args.length == 1 && (args[0].equals("--help") || args[0].equals("-h"))) {
            System.out.println(USAGE);
            return;
        }
        if (args.length > 1 || (args.length == 0 && !PatroniEnvironment.hasWholeConfiguration(env))) {
            System.err.println(USAGE);
            System.exit(2);
        }
        String source = args.length == 1 ? args[0] : PatroniEnvironment.WHOLE;
        AgentConfig config;
        HaCluster node;
        try {
            config = AgentConfig.load(args.length == 1 ? Path.of(args[0]) : null, env);
            if (!PatroniEnvironment.hasWholeConfiguration(env) && !PatroniEnvironment.applied(env).isEmpty()) {
                LOG.info("{}: overridden by the environment: {}", source, PatroniEnvironment.applied(env));
            }
            config.warnings().forEach(w -> LOG.warn("{}: {}", source, w));
            node = config.cluster();
        } catch (IllegalArgumentException e) {
            System.err.println("pgha: " + source + ": " + e.getMessage());
            System.exit(2);
            return;
        }
        // Before start(): the JVM's own SIGHUP action is to shut down, and a reload sent while the member starts must
        // not stop it (it is refused with a warning until the member runs).
        new SighupReload(node.name(), node::reload).install();
        CountDownLatch closed = new CountDownLatch(1);
        AtomicBoolean stopping = new AtomicBoolean();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stopping.set(true);
            node.close();
            closed.countDown();
        }, "pgha-shutdown"));
        try {
            node.start();
        } catch (IllegalStateException e) {
            // Another live process with this member name (docs/decisions 0011), or a REST port in use: start() has
            // closed the member already.
            LOG.error("pgha agent {}: {}", node.name(), e.getMessage());
            System.err.println("pgha: " + e.getMessage());
            System.exit(1);
            return;
        }
        LOG.info("pgha agent {} running ({} store); stop with SIGTERM, reload with SIGHUP", node.name(),
                config.store());
        // The member can close itself (its HA loop cannot start, say): an agent that then idles would look alive to
        // a supervisor while doing nothing, so it exits and lets the supervisor see it.
        while (!closed.await(1, TimeUnit.SECONDS)) {
            if (node.role() == Role.CLOSED && !stopping.get()) {
                LOG.error("pgha agent {}: the member closed itself (the reason is logged above); exiting",
                        node.name());
                System.exit(1);
            }
        }
    }
}
