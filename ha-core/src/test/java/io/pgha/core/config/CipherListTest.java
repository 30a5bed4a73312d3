package io.pgha.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code restapi.ciphers}: OpenSSL cipher strings as JDK suite names, and what is refused (decision 0512). */
@Timeout(60)
class CipherListTest {

    private static final String SETTING = "restapi.ciphers";
    private static final List<String> TLS13 = List.of("TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256",
            "TLS_CHACHA20_POLY1305_SHA256");

    /** What this JDK's TLS context supports, as the server side asks it. */
    private static List<String> offered() throws Exception {
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, null, null);
        return List.of(ctx.getSupportedSSLParameters().getCipherSuites());
    }

    private static List<String> toJdk(String list) throws Exception {
        return CipherList.toJdk(list, SETTING, offered());
    }

    @Test
    void openSslNamesBecomeJdkNamesInTheirOrderAfterTheJdksTls13Suites() throws Exception {
        List<String> r = toJdk("ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA");
        assertThat(r).containsExactlyInAnyOrderElementsOf(List.of("TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256",
                "TLS_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_128_CBC_SHA"));
        assertThat(r.subList(3, 6)).containsExactly("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_128_CBC_SHA");
        assertThat(r).doesNotContain("TLS_EMPTY_RENEGOTIATION_INFO_SCSV");
    }

    @Test
    void ianaNamesCommasAndSpacesAreAcceptedAndDuplicatesKeepTheirFirstPlace() throws Exception {
        assertThat(toJdk("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ECDHE-RSA-CHACHA20-POLY1305 "
                + "ECDHE-RSA-AES128-GCM-SHA256").subList(3, 5)).containsExactly(
                        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256");
    }

    @Test
    void naming13SuitesRestrictsTls13ToThem() throws Exception {
        assertThat(toJdk("ECDHE-RSA-AES128-GCM-SHA256:TLS_AES_256_GCM_SHA384")).containsExactly(
                "TLS_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        assertThat(toJdk("TLS_CHACHA20_POLY1305_SHA256")).containsExactly("TLS_CHACHA20_POLY1305_SHA256");
    }

    @Test
    void patronisDocumentedExampleTranslates() throws Exception {
        // Its exclusions of protocol names match nothing among GCM suites; SSLv1/SSLv2/TLSv1.1 have no suites.
        assertThat(toJdk("ECDHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:"
                + "DHE-RSA-AES128-GCM-SHA256:!SSLv1:!SSLv2:!SSLv3:!TLSv1:!TLSv1.1")).containsExactlyElementsOf(
                        concat(TLS13, List.of("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                                "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256")));
    }

    @Test
    void exclusionsRemoveSuitesAndGroupsAsOpenSslDoes() throws Exception {
        // '!' bans for good, also what a later entry names; '-' removes what is listed so far only.
        assertThat(toJdk("ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256:!SSLv3:ECDHE-RSA-AES256-SHA"))
                .containsExactlyElementsOf(concat(TLS13, List.of("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")));
        assertThat(toJdk("ECDHE-RSA-AES128-SHA:-ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES128-SHA"))
                .containsExactlyElementsOf(concat(TLS13, List.of("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA")));
        assertThat(toJdk("AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:!kRSA:!aNULL:!eNULL:!MD5:!RC4:!3DES"))
                .containsExactlyElementsOf(concat(TLS13, List.of("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")));
        assertThat(toJdk("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA256:!TLSv1.2:ECDHE-RSA-AES128-SHA"))
                .containsExactlyElementsOf(concat(TLS13, List.of("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA")));
        assertThat(toJdk("DHE-DSS-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:!DSS:!TLS_AES_128_GCM_SHA256"))
                .containsExactly("TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
                        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
    }

    @Test
    void openSslKeywordsThatSelectSuitesAreRefusedNamingTheEntry() {
        for (String keyword : List.of("HIGH", "DEFAULT", "ALL", "ECDHE", "ECDHE+AESGCM", "kEECDH", "MEDIUM")) {
            assertThatThrownBy(() -> toJdk("ECDHE-RSA-AES128-GCM-SHA256:" + keyword + ":!aNULL"))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith(SETTING + ": '" + keyword + "' is not a cipher suite this JDK offers")
                    .hasMessageContaining("ECDHE-RSA-AES128-GCM-SHA256");
        }
        assertThatThrownBy(() -> toJdk("ECDHE-RSA-AES128-GCM-SHA256:@STRENGTH")).hasMessageStartingWith(
                SETTING + ": '@STRENGTH' is an OpenSSL ordering directive");
        assertThatThrownBy(() -> toJdk("ECDHE-RSA-AES128-GCM-SHA256:+AES128")).hasMessageStartingWith(
                SETTING + ": '+AES128' is an OpenSSL ordering directive");
    }

    @Test
    void suitesTheJdkDoesNotOfferAndUnknownExclusionsAreRefused() {
        assertThatThrownBy(() -> toJdk("ECDHE-RSA-AES128-GCM-SHA256:RC4-SHA")).hasMessageStartingWith(
                SETTING + ": 'RC4-SHA' is not a cipher suite this JDK offers");
        assertThatThrownBy(() -> toJdk("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA265"))
                .hasMessageContaining("'ECDHE-RSA-AES128-GCM-SHA265'");
        assertThatThrownBy(() -> toJdk("ECDHE-RSA-AES128-GCM-SHA256:!FOO")).hasMessageStartingWith(
                SETTING + ": '!FOO' excludes 'FOO', which is neither a cipher suite this JDK offers nor a group")
                .hasMessageContaining("aNULL");
    }

    @Test
    void aListThatLeavesNothingIsRefused() {
        assertThatThrownBy(() -> toJdk("ECDHE-RSA-AES128-SHA:AES256-SHA:!SSLv3")).hasMessageStartingWith(
                SETTING + ": 'ECDHE-RSA-AES128-SHA:AES256-SHA:!SSLv3' leaves no cipher suite");
        assertThatThrownBy(() -> toJdk("!aNULL")).hasMessageContaining("leaves no cipher suite");
        assertThatThrownBy(() -> toJdk("  ")).hasMessageContaining("leaves no cipher suite");
    }

    @Test
    void onAJdkThatOffersFewerSuitesTheOthersAreRefused() {
        List<String> fewer = List.of("TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        assertThat(CipherList.toJdk("ECDHE-RSA-AES128-GCM-SHA256", SETTING, fewer)).containsExactlyElementsOf(fewer);
        assertThatThrownBy(() -> CipherList.toJdk("ECDHE-RSA-AES256-GCM-SHA384", SETTING, fewer))
                .hasMessageContaining("'ECDHE-RSA-AES256-GCM-SHA384' is not a cipher suite this JDK offers")
                .hasMessageEndingWith("This JDK offers TLS_AES_128_GCM_SHA256:ECDHE-RSA-AES128-GCM-SHA256");
    }

    /** The name table agrees with openssl(1)'s own mapping for every name both know, and covers this JDK. */
    @Test
    void theNameTableAgreesWithOpenssl() throws Exception {
        Process p = new ProcessBuilder("openssl", "ciphers", "-stdname", "ALL:COMPLEMENTOFALL:@SECLEVEL=0")
                .redirectErrorStream(true).start();
        String out;
        try {
            out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        } finally {
            p.destroyForcibly();
        }
        assertThat(p.exitValue()).as(out).isZero();
        Map<String, String> openssl = new HashMap<>();
        for (String line : out.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 3 && f[1].equals("-")) {
                openssl.put(f[2], f[0]);
            }
        }
        assertThat(openssl).hasSizeGreaterThan(30);
        int compared = 0;
        for (Map.Entry<String, String> e : CipherList.openSslNames().entrySet()) {
            if (openssl.containsKey(e.getKey())) {
                assertThat(openssl.get(e.getKey())).as(e.getKey()).isEqualTo(e.getValue());
                compared++;
            }
        }
        assertThat(compared).isGreaterThan(30);
        // Every TLS 1.2 suite this JDK offers has its OpenSSL name in the table.
        for (String s : offered()) {
            if (!CipherList.isTls13(s) && !s.endsWith("_SCSV")) {
                assertThat(CipherList.openSslNames()).as(s).containsValue(s);
            }
        }
    }

    private static List<String> concat(List<String> a, List<String> b) {
        return java.util.stream.Stream.concat(a.stream(), b.stream()).toList();
    }
}
