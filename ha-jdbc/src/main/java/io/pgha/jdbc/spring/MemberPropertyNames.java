package io.pgha.jdbc.spring;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Rewrites the member builder's messages (which name its Java settings: {@code loopWait}, {@code dataDir},
 * {@code REST port}, ...) in the {@code pgha.member.*} property names the user wrote, so a bad property stops the
 * application with a message naming that property and the rule.
 */
final class MemberPropertyNames {

    private static final String P = PghaMember.PREFIX;

    /** Builder wording → property; longer phrases first, so "superuser password" wins over "superuser". */
    private static final Map<Pattern, String> NAMES = new LinkedHashMap<>();

    static {
        name("REST credentials(?: and allowUnauthenticated\\(\\))?", "rest.username/password");
        name("REST port", "rest.port");
        name("superuser password", "postgres.superuser-password");
        name("replication password", "postgres.replication-password");
        name("superuser", "postgres.superuser-name");
        name("replication user", "postgres.replication-name");
        name("binDir", "postgres.bin-dir");
        name("dataDir", "postgres.data-dir");
        name("nodeDir", "postgres.node-dir");
        name("listenHost", "postgres.listen-host");
        name("listenPort", "postgres.listen-port");
        name("initdbArgs", "postgres.initdb-args");
        name("parameters", "postgres.parameters");
        name("loopWait", "loop-wait");
        name("retryTimeout", "retry-timeout");
        name("ttl", "ttl");
        name("maximumLagOnFailover", "maximum-lag-on-failover");
        name("switchoverDrain", "switchover-drain");
        name("synchronousMode", "synchronous-mode");
        name("namespace", "namespace");
        name("scope", "scope");
    }

    private static void name(String wording, String property) {
        NAMES.put(Pattern.compile("(?<![\\w.-])" + wording + "(?![\\w-])"), P + property);
    }

    private static final Pattern LEADING_NAME = Pattern.compile("^name(?= )");

    private MemberPropertyNames() {}

    static String inPropertyTerms(String message) {
        if (message == null || message.isBlank()) {
            return P + "*: invalid";
        }
        String out = message.startsWith("PostgresSettings: ") ? message.substring("PostgresSettings: ".length())
                : message;
        // One pass per name over the text as it was, so a property just written is not matched again.
        StringBuilder sb = new StringBuilder();
        int at = 0;
        while (at < out.length()) {
            int bestStart = -1;
            int bestEnd = -1;
            String bestProperty = null;
            for (Map.Entry<Pattern, String> e : NAMES.entrySet()) {
                Matcher m = e.getKey().matcher(out);
                if (m.find(at) && (bestStart < 0 || m.start() < bestStart)) {
                    bestStart = m.start();
                    bestEnd = m.end();
                    bestProperty = e.getValue();
                }
            }
            if (bestStart < 0) {
                break;
            }
            sb.append(out, at, bestStart).append(bestProperty);
            at = bestEnd;
        }
        sb.append(out.substring(at));
        String named = LEADING_NAME.matcher(sb).replaceFirst(Matcher.quoteReplacement(P + "name"));
        return named.startsWith(P) ? named : P + "*: " + named;
    }
}
