package io.pgha.examples.e2e;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@link SoakBenchmark}'s arguments, checked before anything starts: {@code store profile duration load}. Pure.
 *
 * @param store   {@code etcd} or {@code zookeeper}
 * @param profile as given: a profile name of {@link FailoverBenchmark#timings} or explicit timings
 * @param timings the HA timings the cluster runs with
 * @param length  how long the writers run under load
 * @param load    {@code stress-ng} ({@code stress-ng --cpu 2} beside the cluster) or {@code none}
 */
record SoakArgs(String store, String profile, StoreUnderTest.Timings timings, Duration length, String load) {

    static final String USAGE = "arguments: store (etcd|zookeeper), profile (default, fast, or"
            + " ttl=2s,loopWait=1s,retryTimeout=500ms), duration (30m, 90s, 1h), load (stress-ng|none)";

    private static final Pattern AMOUNT = Pattern.compile("(\\d+(?:\\.\\d+)?)(ms|s|m|h)");

    static SoakArgs parse(String... args) {
        if (args.length != 4) {
            throw new IllegalArgumentException("expected 4 arguments, got " + args.length + "; " + USAGE);
        }
        String store = args[0];
        if (!store.equals("etcd") && !store.equals("zookeeper")) {
            throw new IllegalArgumentException("store must be etcd or zookeeper (got " + store + ")");
        }
        Duration length = duration("duration", args[2]);
        if (length.compareTo(Duration.ofSeconds(10)) < 0) {
            throw new IllegalArgumentException("duration must be at least 10s (got " + args[2] + ")");
        }
        String load = args[3];
        if (!load.equals("stress-ng") && !load.equals("none")) {
            throw new IllegalArgumentException("load must be stress-ng or none (got " + load + ")");
        }
        return new SoakArgs(store, args[1], timings(store, args[1]), length, load);
    }

    /**
     * A profile name ({@code default}, {@code fast}, as {@link FailoverBenchmark} defines them), or all three timings
     * given explicitly as {@code ttl=..,loopWait=..,retryTimeout=..} (each with a unit: ms, s, m, h). Whether the
     * timings fit together is the product's rule to enforce: the agents refuse them at start.
     */
    static StoreUnderTest.Timings timings(String store, String profile) {
        if (!profile.contains("=")) {
            return FailoverBenchmark.timings(store, profile);
        }
        Map<String, Duration> given = new LinkedHashMap<>();
        for (String part : profile.split(",")) {
            String[] kv = part.split("=", 2);
            String key = kv[0].strip();
            if (!key.equals("ttl") && !key.equals("loopWait") && !key.equals("retryTimeout")) {
                throw new IllegalArgumentException("profile: unknown setting '" + key
                        + "' (expected ttl, loopWait and retryTimeout, e.g. ttl=2s,loopWait=1s,retryTimeout=500ms)");
            }
            if (kv.length < 2 || given.put(key, duration("profile " + key, kv[1].strip())) != null) {
                throw new IllegalArgumentException("profile: " + key + " must be given once, with a value (got "
                        + profile + ")");
            }
        }
        for (String key : new String[] {"ttl", "loopWait", "retryTimeout"}) {
            if (!given.containsKey(key)) {
                throw new IllegalArgumentException("profile: " + key + " is missing (got " + profile
                        + "; expected ttl=..,loopWait=..,retryTimeout=..)");
            }
        }
        return new StoreUnderTest.Timings(given.get("ttl"), given.get("loopWait"), given.get("retryTimeout"));
    }

    /** {@code 500ms}, {@code 2s}, {@code 1.5s}, {@code 30m}, {@code 1h}; positive, whole milliseconds. */
    static Duration duration(String what, String text) {
        Matcher m = AMOUNT.matcher(text.strip().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException(what + " must be a number with a unit ms, s, m or h (got '" + text
                    + "')");
        }
        double millisPerUnit = switch (m.group(2)) {
            case "ms" -> 1;
            case "s" -> 1_000;
            case "m" -> 60_000;
            default -> 3_600_000;
        };
        double ms = Double.parseDouble(m.group(1)) * millisPerUnit;
        if (ms < 1 || ms != Math.rint(ms)) {
            throw new IllegalArgumentException(what + " must be a positive whole number of milliseconds (got '"
                    + text + "')");
        }
        return Duration.ofMillis((long) ms);
    }
}
