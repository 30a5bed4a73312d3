package io.pgha.examples.demo;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;

/**
 * The demo's command line. Every option has a default that gives the README's run; a bad value is a
 * {@link DemoException} with a one-line message naming the option.
 *
 * @param store        which DCS the members use
 * @param consulUrl    the Consul agent for {@code --store consul} (none can be started here; see docs/demo.md)
 * @param pgBin        PostgreSQL's bin directory, or null to look for one
 * @param pgUser       the OS user PostgreSQL runs as when the demo runs as root
 * @param ttl          the leader lease: how long a dead leader keeps the lock
 * @param writeBefore  how long to write through the first leader before killing it
 * @param writeAfter   how long to keep writing once writes are accepted again
 * @param rate         rows per second the writer aims for
 * @param keep         keep the work directory (logs, data) for inspection; processes are stopped all the same
 * @param verbose      copy the agents' log lines to the output, prefixed with the member name
 */
record DemoOptions(Store store, URI consulUrl, Path pgBin, String pgUser, Duration ttl, Duration writeBefore,
        Duration writeAfter, int rate, boolean keep, boolean verbose) {

    /** The stores the members can use. */
    enum Store {
        ZOOKEEPER, ETCD, CONSUL;

        String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    static final String USAGE = """
            usage: ./demo [options]
              --store zookeeper|etcd|consul  the DCS (default zookeeper, run inside the demo's JVM;
                                             etcd: Debian's etcd, started on free loopback ports;
                                             consul: an agent you run, see --consul-url)
              --consul-url URL               the Consul agent for --store consul, e.g. http://127.0.0.1:8500
              --ttl SECONDS                  leader lease (default 10, consul 20): a dead leader's lock
                                             expires after this, so it bounds how long writes are refused
              --write-before SECONDS         write through the first leader for this long, then kill it (default 5)
              --write-after SECONDS          keep writing this long once writes succeed again (default 3)
              --rate ROWS_PER_SECOND         writer pace (default 200)
              --pg-bin DIR                   PostgreSQL's bin directory (default: newest /usr/lib/postgresql/*/bin,
                                             else initdb on PATH)
              --pg-user NAME                 OS user for PostgreSQL when run as root (default postgres)
              --keep                         keep the work directory (/tmp/pgha-demo-*) with logs and data
              --verbose                      show the agents' log lines
              --help                         this text""";

    static DemoOptions parse(String... args) {
        Store store = Store.ZOOKEEPER;
        URI consul = null;
        Path pgBin = null;
        String pgUser = "postgres";
        Integer ttl = null;
        double before = 5;
        double after = 3;
        int rate = 200;
        boolean keep = false;
        boolean verbose = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            String value = null;
            int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 0) {
                value = a.substring(eq + 1);
                a = a.substring(0, eq);
            }
            switch (a) {
                case "--help", "-h" -> throw new DemoException(0, USAGE);
                case "--keep" -> keep = true;
                case "--verbose", "-v" -> verbose = true;
                default -> {
                    if (value == null) {
                        if (i + 1 >= args.length || !a.startsWith("--")) {
                            throw usage(a.startsWith("--") ? a + " needs a value" : "unexpected argument '" + a + "'");
                        }
                        value = args[++i];
                    }
                    switch (a) {
                        case "--store" -> store = switch (value.toLowerCase(Locale.ROOT)) {
                            case "zookeeper", "zk" -> Store.ZOOKEEPER;
                            case "etcd", "etcd3" -> Store.ETCD;
                            case "consul" -> Store.CONSUL;
                            default -> throw usage("--store: expected zookeeper, etcd or consul, got '" + value + "'");
                        };
                        case "--consul-url" -> consul = consulUri(value);
                        case "--pg-bin" -> pgBin = Path.of(value);
                        case "--pg-user" -> pgUser = value;
                        case "--ttl" -> ttl = (int) number(a, value, 1, 600);
                        case "--write-before" -> before = number(a, value, 1, 600);
                        case "--write-after" -> after = number(a, value, 0.5, 600);
                        case "--rate" -> rate = (int) number(a, value, 1, 10_000);
                        default -> throw usage("unknown option '" + a + "'");
                    }
                }
            }
        }
        // Consul refuses sessions under 10 s and the adapter asks for ttl/2 (docs/consul-settings.md): 20 s minimum.
        int minTtl = store == Store.CONSUL ? 20 : 5;
        if (ttl == null) {
            ttl = store == Store.CONSUL ? 20 : 10;
        } else if (ttl < minTtl || ttl > 60 * (store == Store.CONSUL ? 2 : 1)) {
            throw usage("--ttl: " + store.label() + " needs " + minTtl + " to " + (store == Store.CONSUL ? 120 : 60)
                    + " seconds, got " + ttl);
        }
        if (consul != null && store != Store.CONSUL) {
            throw usage("--consul-url is only for --store consul");
        }
        return new DemoOptions(store, consul, pgBin, pgUser, Duration.ofSeconds(ttl), seconds(before), seconds(after),
                rate, keep, verbose);
    }

    /** The HA loop period: short, so a replica notices a missing leader and a new sync standby quickly. */
    Duration loopWait() {
        return Duration.ofSeconds(1);
    }

    /**
     * The longest a DCS call may take. The leader must be able to miss two calls in a row and still step down
     * before its lease runs out ({@code loopWait + 2*retryTimeout <= lease}); the lease is the ttl on etcd, half of it
     * on Consul, and on the demo's one ZooKeeper server the ttl less the adapter's 1% clock-rate allowance.
     */
    Duration retryTimeout() {
        long leaseMs = switch (store) {
            case CONSUL -> ttl.toMillis() / 2;
            case ZOOKEEPER -> ttl.toMillis() * 99 / 100;
            case ETCD -> ttl.toMillis();
        };
        return Duration.ofSeconds(Math.max(1, Math.min(3, (leaseMs - loopWait().toMillis()) / 2000)));
    }

    private static DemoException usage(String message) {
        return new DemoException(2, message + " (--help lists the options)");
    }

    private static double number(String option, String value, double min, double max) {
        double d;
        try {
            d = Double.parseDouble(value);
        } catch (NumberFormatException e) {
            throw usage(option + ": expected a number, got '" + value + "'");
        }
        if (!(d >= min && d <= max)) {
            throw usage(option + ": expected " + fmt(min) + " to " + fmt(max) + ", got " + value);
        }
        return d;
    }

    private static String fmt(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }

    private static Duration seconds(double s) {
        return Duration.ofMillis(Math.round(s * 1000));
    }

    private static URI consulUri(String value) {
        String v = value.contains("://") ? value : "http://" + value;
        try {
            URI u = URI.create(v);
            if (u.getHost() == null || !(u.getScheme().equals("http") || u.getScheme().equals("https"))) {
                throw new IllegalArgumentException("not an http(s) URL with a host");
            }
            return u;
        } catch (IllegalArgumentException e) {
            throw usage("--consul-url: expected http://host:port, got '" + value + "'");
        }
    }
}
