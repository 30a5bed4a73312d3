package io.pgha.core.config;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Patroni's {@code restapi.ciphers}, an OpenSSL cipher string, as the JDK's cipher suite names (decision 0512).
 *
 * <p>Entries are separated by {@code :} (OpenSSL also takes commas and spaces). A suite may be named the OpenSSL way
 * ({@code ECDHE-RSA-AES128-GCM-SHA256}) or the IANA/JDK way ({@code TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}); it must
 * be one the JDK offers. {@code !X} and {@code -X} take suites out again, X being a suite or one of the groups in
 * {@link #GROUPS}. OpenSSL's selecting keywords ({@code HIGH}, {@code DEFAULT}, ...), {@code +X} and
 * {@code @STRENGTH} have no faithful JDK meaning and are refused, naming the entry; so is a list that leaves nothing.
 *
 * <p>TLS 1.3: OpenSSL's cipher string does not touch TLS 1.3 (it has a separate setting), so without a TLS 1.3 suite
 * in the list every TLS 1.3 suite the JDK offers stays enabled, as under Patroni (less any the list excludes by
 * name); naming some restricts TLS 1.3 to those.
 */
final class CipherList {

    /** OpenSSL's names of the TLS 1.0-1.2 suites SunJSSE offers; TLS 1.3 suites have one name in both worlds. */
    private static final Map<String, String> OPENSSL_TO_IANA = Map.ofEntries(
            Map.entry("ECDHE-ECDSA-AES128-GCM-SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
            Map.entry("ECDHE-ECDSA-AES256-GCM-SHA384", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
            Map.entry("ECDHE-ECDSA-CHACHA20-POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
            Map.entry("ECDHE-ECDSA-AES128-SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"),
            Map.entry("ECDHE-ECDSA-AES256-SHA384", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"),
            Map.entry("ECDHE-ECDSA-AES128-SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"),
            Map.entry("ECDHE-ECDSA-AES256-SHA", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"),
            Map.entry("ECDHE-RSA-AES128-GCM-SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
            Map.entry("ECDHE-RSA-AES256-GCM-SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
            Map.entry("ECDHE-RSA-CHACHA20-POLY1305", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
            Map.entry("ECDHE-RSA-AES128-SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"),
            Map.entry("ECDHE-RSA-AES256-SHA384", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"),
            Map.entry("ECDHE-RSA-AES128-SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
            Map.entry("ECDHE-RSA-AES256-SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"),
            Map.entry("DHE-RSA-AES128-GCM-SHA256", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"),
            Map.entry("DHE-RSA-AES256-GCM-SHA384", "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"),
            Map.entry("DHE-RSA-CHACHA20-POLY1305", "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
            Map.entry("DHE-RSA-AES128-SHA256", "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"),
            Map.entry("DHE-RSA-AES256-SHA256", "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"),
            Map.entry("DHE-RSA-AES128-SHA", "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"),
            Map.entry("DHE-RSA-AES256-SHA", "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"),
            Map.entry("DHE-DSS-AES128-GCM-SHA256", "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256"),
            Map.entry("DHE-DSS-AES256-GCM-SHA384", "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384"),
            Map.entry("DHE-DSS-AES128-SHA256", "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256"),
            Map.entry("DHE-DSS-AES256-SHA256", "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256"),
            Map.entry("DHE-DSS-AES128-SHA", "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"),
            Map.entry("DHE-DSS-AES256-SHA", "TLS_DHE_DSS_WITH_AES_256_CBC_SHA"),
            Map.entry("AES128-GCM-SHA256", "TLS_RSA_WITH_AES_128_GCM_SHA256"),
            Map.entry("AES256-GCM-SHA384", "TLS_RSA_WITH_AES_256_GCM_SHA384"),
            Map.entry("AES128-SHA256", "TLS_RSA_WITH_AES_128_CBC_SHA256"),
            Map.entry("AES256-SHA256", "TLS_RSA_WITH_AES_256_CBC_SHA256"),
            Map.entry("AES128-SHA", "TLS_RSA_WITH_AES_128_CBC_SHA"),
            Map.entry("AES256-SHA", "TLS_RSA_WITH_AES_256_CBC_SHA"));

    /** OpenSSL names whose openssl(1) meaning is no suite at all: excluding them excludes nothing. */
    private static final Set<String> NO_SUITES = Set.of("SSLv1", "SSLv2", "TLSv1.1");

    /**
     * The groups an exclusion may name, by what the IANA name says. {@code SSLv3}/{@code TLSv1} are, as in OpenSSL,
     * the suites usable before TLS 1.2 (SHA-1 or MD5 MACs); {@code TLSv1.2} those that need TLS 1.2.
     */
    static final Map<String, Predicate<String>> GROUPS = Map.ofEntries(
            Map.entry("aNULL", s -> s.contains("_anon_")),
            Map.entry("eNULL", s -> s.contains("_WITH_NULL_")),
            Map.entry("NULL", s -> s.contains("_WITH_NULL_")),
            Map.entry("EXPORT", s -> s.contains("EXPORT")),
            Map.entry("EXP", s -> s.contains("EXPORT")),
            Map.entry("LOW", s -> s.contains("_DES_") || s.contains("DES40") || s.contains("EXPORT")),
            Map.entry("DES", s -> s.contains("_DES_") || s.contains("DES40")),
            Map.entry("3DES", s -> s.contains("3DES")),
            Map.entry("RC4", s -> s.contains("_RC4_")),
            Map.entry("MD5", s -> s.endsWith("_MD5")),
            Map.entry("SHA1", s -> s.endsWith("_SHA")),
            Map.entry("PSK", s -> s.contains("PSK")),
            Map.entry("SRP", s -> s.contains("_SRP_")),
            Map.entry("DSS", s -> s.contains("_DSS_")),
            Map.entry("aDSS", s -> s.contains("_DSS_")),
            Map.entry("kRSA", s -> s.startsWith("TLS_RSA_")),
            Map.entry("CAMELLIA", s -> s.contains("CAMELLIA")),
            Map.entry("SSLv3", CipherList::beforeTls12),
            Map.entry("TLSv1", CipherList::beforeTls12),
            Map.entry("TLSv1.0", CipherList::beforeTls12),
            Map.entry("TLSv1.2", s -> !isTls13(s) && !beforeTls12(s)));

    private CipherList() {}

    /**
     * The JDK suite names the list allows, in its order, TLS 1.3 suites first.
     *
     * @param list    the OpenSSL-style list
     * @param setting the setting's name for messages, e.g. {@code restapi.ciphers}
     * @param supported the suites the JDK's TLS context supports, in its order of preference
     * @throws IllegalArgumentException an entry pgha cannot translate, or nothing left; naming the setting and entry
     */
    static List<String> toJdk(String list, String setting, List<String> supported) {
        // The renegotiation signalling value is no cipher; the JDK adds it by itself.
        List<String> offered = supported.stream().filter(s -> !s.endsWith("_SCSV")).toList();
        Set<String> offeredSet = Set.copyOf(offered);
        LinkedHashSet<String> chosen = new LinkedHashSet<>();
        List<Predicate<String>> banned = new ArrayList<>();
        // Every exclusion, also applied to the TLS 1.3 suites left enabled when the list names none.
        List<Predicate<String>> excluded = new ArrayList<>();
        String[] entries = list.trim().split("[:, ]+");
        for (String raw : entries) {
            if (raw.isEmpty()) {
                continue;
            }
            char first = raw.charAt(0);
            if (first == '!' || first == '-') {
                Predicate<String> match = exclusion(raw, raw.substring(1), setting, offeredSet);
                chosen.removeIf(match);
                excluded.add(match);
                if (first == '!') {
                    banned.add(match);
                }
            } else if (first == '+' || first == '@') {
                throw new IllegalArgumentException(setting + ": '" + raw + "' is an OpenSSL ordering directive, "
                        + "which pgha does not translate: list the suites in the order you prefer them (the server's "
                        + "order is used)");
            } else {
                String suite = suite(raw, offeredSet);
                if (suite == null) {
                    throw new IllegalArgumentException(setting + ": '" + raw + "' is not a cipher suite this JDK "
                            + "offers. Name suites (OpenSSL or IANA names); OpenSSL's keywords that select groups "
                            + "(HIGH, DEFAULT, ECDHE, ...) have no JDK equivalent. This JDK offers "
                            + String.join(":", openSslNames(offered)));
                }
                if (banned.stream().noneMatch(b -> b.test(suite))) {
                    chosen.add(suite);
                }
            }
        }
        if (chosen.isEmpty()) {
            throw new IllegalArgumentException(setting + ": '" + list + "' leaves no cipher suite this JDK offers; "
                    + "it offers " + String.join(":", openSslNames(offered)));
        }
        List<String> tls13 = chosen.stream().filter(CipherList::isTls13).toList();
        List<String> result = new ArrayList<>(tls13.isEmpty()
                ? offered.stream().filter(s -> isTls13(s) && excluded.stream().noneMatch(x -> x.test(s))).toList()
                : tls13);
        chosen.stream().filter(s -> !isTls13(s)).forEach(result::add);
        return List.copyOf(result);
    }

    /** The JDK name of a suite entry, or null when it names none the JDK offers. */
    private static String suite(String name, Set<String> offered) {
        String iana = OPENSSL_TO_IANA.getOrDefault(name, name.toUpperCase(Locale.ROOT));
        return offered.contains(iana) ? iana : null;
    }

    private static Predicate<String> exclusion(String raw, String name, String setting, Set<String> offered) {
        String suite = suite(name, offered);
        if (suite != null) {
            return suite::equals;
        }
        Predicate<String> group = GROUPS.get(name);
        if (group != null) {
            return group;
        }
        if (NO_SUITES.contains(name)) {
            return s -> false;
        }
        throw new IllegalArgumentException(setting + ": '" + raw + "' excludes '" + name + "', which is neither a "
                + "cipher suite this JDK offers nor a group pgha can evaluate (" + String.join(", ",
                        GROUPS.keySet().stream().sorted().toList()) + ")");
    }

    /** The suites in OpenSSL's spelling where there is one, for messages users compare with their config. */
    private static List<String> openSslNames(List<String> offered) {
        List<String> out = new ArrayList<>();
        for (String s : offered) {
            String name = OPENSSL_TO_IANA.entrySet().stream().filter(e -> e.getValue().equals(s))
                    .map(Map.Entry::getKey).findFirst().orElse(s);
            out.add(name);
        }
        return out;
    }

    static boolean isTls13(String iana) {
        return iana.startsWith("TLS_") && !iana.contains("_WITH_");
    }

    private static boolean beforeTls12(String iana) {
        return !isTls13(iana) && (iana.endsWith("_SHA") || iana.endsWith("_MD5"));
    }

    /** The OpenSSL names this table knows, for tests that compare it with openssl(1). */
    static Map<String, String> openSslNames() {
        return OPENSSL_TO_IANA;
    }
}
