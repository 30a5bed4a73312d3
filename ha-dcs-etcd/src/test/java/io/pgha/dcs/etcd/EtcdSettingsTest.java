package io.pgha.dcs.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.testkit.FakeMember;
import io.pgha.core.time.SystemHaClock;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class EtcdSettingsTest {

    @TempDir
    Path tmp;

    private static DcsContext context(Duration ttl, Duration retryTimeout) {
        return new DcsContext(KeyLayout.of("orders"), "db-1", ttl, retryTimeout, SystemHaClock.INSTANCE);
    }

    @ParameterizedTest
    @CsvSource({
            "http://etcd1:2379, http://etcd1:2379",
            "etcd1:2379, http://etcd1:2379",
            "etcd1, http://etcd1:2379",
            "https://etcd1:2379/, https://etcd1:2379",
            "HTTP://10.0.0.1:4001, http://10.0.0.1:4001",
            "http://[::1]:2379, http://[::1]:2379"})
    void endpointsAreNormalisedToSchemeHostPort(String given, String expected) {
        assertThat(EtcdSettings.builder(given).build().endpoints()).containsExactly(URI.create(expected));
    }

    @Test
    void aCommaSeparatedListIsSeveralEndpoints() {
        EtcdSettings s = EtcdSettings.builder("http://e1:2379,http://e2:2379", "e3:2379").build();
        assertThat(s.endpoints()).extracting(URI::toString)
                .containsExactly("http://e1:2379", "http://e2:2379", "http://e3:2379");
        assertThat(s.https()).isFalse();
    }

    @Test
    void malformedEndpointsAreRefusedNamingTheProblem() {
        assertThatThrownBy(() -> EtcdSettings.builder()).hasMessageContaining("at least one etcd member");
        assertThatThrownBy(() -> EtcdSettings.builder(" ")).hasMessageContaining("must not be empty");
        assertThatThrownBy(() -> EtcdSettings.builder("http://e1:2379,")).hasMessageContaining("must not be empty");
        assertThatThrownBy(() -> EtcdSettings.builder("ftp://e1:2379")).hasMessageContaining("must use http or https");
        assertThatThrownBy(() -> EtcdSettings.builder("http://e1:2379/v3")).hasMessageContaining("without a path");
        assertThatThrownBy(() -> EtcdSettings.builder("http://u:p@e1:2379")).hasMessageContaining("credentials");
        assertThatThrownBy(() -> EtcdSettings.builder("http://e1:99999"))
                .hasMessageContaining("port must be 1 to 65535");
        assertThatThrownBy(() -> EtcdSettings.builder("http://e1:2379", "https://e2:2379").build())
                .hasMessageContaining("same scheme");
    }

    @Test
    void authNeedsBothUserAndPasswordAndTheToStringHidesThePassword() {
        assertThatThrownBy(() -> EtcdSettings.builder("e1").auth(" ", "pw"))
                .hasMessageContaining("user must not be empty");
        assertThatThrownBy(() -> new EtcdSettings(List.of(URI.create("http://e1:2379")), "pgha", null, null, null, null,
                null, null, null)).hasMessageContaining("password must be set with user 'pgha'");
        EtcdSettings s = EtcdSettings.builder("e1").auth("pgha", "s3cret").build();
        assertThat(s.user()).isEqualTo("pgha");
        assertThat(s.toString()).contains("user=pgha").contains("password=***").doesNotContain("s3cret");
    }

    @Test
    void tlsStoresNeedHttpsAndReadableFilesAndTheRightPassword() throws Exception {
        Path missing = tmp.resolve("missing.p12");
        assertThatThrownBy(() -> EtcdSettings.builder("https://e1:2379").trustStore(missing, "pw"))
                .hasMessageContaining("trustStore " + missing + " does not exist");
        Path junk = Files.writeString(tmp.resolve("junk.p12"), "not a key store");
        assertThatThrownBy(() -> EtcdSettings.builder("http://e1:2379").trustStore(junk, "pw").build())
                .hasMessageContaining("trustStore is set but no endpoint uses https");
        assertThatThrownBy(() -> EtcdSettings.builder("http://e1:2379").keyStore(junk, "pw").build())
                .hasMessageContaining("keyStore (client certificate) is set but no endpoint uses https");
        assertThatThrownBy(() -> EtcdSettings.builder("https://e1:2379").trustStore(junk, "pw").build())
                .hasMessageContaining("trustStore " + junk + " cannot be loaded");
        assertThat(EtcdSettings.builder("https://e1:2379").build().https()).as("the JVM's default trust").isTrue();
    }

    @Test
    void theLeaseTtlIsTheTtlInWholeSecondsAndMustOutlastTheRetryTimeout() {
        EtcdSettings s = EtcdSettings.builder("e1").build();
        assertThat(s.leaseTtlSecondsFor(context(Duration.ofSeconds(30), Duration.ofSeconds(10)))).isEqualTo(30);
        assertThat(s.leaseTtlSecondsFor(context(Duration.ofMillis(30_900), Duration.ofSeconds(10))))
                .as("rounded down: never a longer lease than asked").isEqualTo(30);
        assertThatThrownBy(() -> s.leaseTtlSecondsFor(context(Duration.ofMillis(900), Duration.ofMillis(100))))
                .hasMessageContaining("ttl must be at least 1 s");
        assertThatThrownBy(() -> s.leaseTtlSecondsFor(context(Duration.ofSeconds(10), Duration.ofSeconds(10))))
                .hasMessageContaining("retryTimeout (10000 ms) must be shorter than the etcd lease TTL (10 s");
        assertThatThrownBy(() -> EtcdDcs.open(s, context(Duration.ofSeconds(5), Duration.ofSeconds(6))))
                .hasMessageContaining("retryTimeout");
    }

    @Test
    void theKeepaliveIntervalDefaultsToAThirdOfTheTtlAndMustBeAtMostHalfOfIt() {
        DcsContext c = context(Duration.ofSeconds(30), Duration.ofSeconds(10));
        assertThat(EtcdSettings.builder("e1").build().keepaliveIntervalFor(c)).isEqualTo(Duration.ofSeconds(10));
        assertThat(EtcdSettings.builder("e1").keepaliveInterval(Duration.ofSeconds(5)).build().keepaliveIntervalFor(c))
                .isEqualTo(Duration.ofSeconds(5));
        assertThatThrownBy(() -> EtcdSettings.builder("e1").keepaliveInterval(Duration.ofSeconds(16)).build()
                .keepaliveIntervalFor(c)).hasMessageContaining("keepaliveInterval (16000 ms) must be at most half");
        assertThatThrownBy(() -> EtcdSettings.builder("e1").keepaliveInterval(Duration.ofMillis(10)))
                .hasMessageContaining("keepaliveInterval must be at least 100 ms");
    }

    @Test
    void theApiPrefixIsV3OrV3betaOrDetected() {
        assertThat(EtcdSettings.builder("e1").build().apiPrefix()).isNull();
        assertThat(EtcdSettings.builder("e1").apiPrefix("/v3beta").build().apiPrefix()).isEqualTo("/v3beta");
        assertThatThrownBy(() -> EtcdSettings.builder("e1").apiPrefix("/v3alpha").build())
                .hasMessageContaining("apiPrefix must be /v3");
    }

    @Test
    void aMemberNameWithASlashIsRefused() {
        // Refused by DcsContext, before any adapter sees it: the name becomes a key in every store.
        assertThatThrownBy(() -> EtcdDcs.open(EtcdSettings.builder("e1").build(), new DcsContext(KeyLayout.of("o"),
                "a/b", Duration.ofSeconds(30), Duration.ofSeconds(10), SystemHaClock.INSTANCE)))
                .hasMessageContaining("member name must be non-empty and contain no '/'");
    }

    @Test
    void aMemberWithATtlNoEtcdLeaseCanHonourFailsWhenBuiltNotInARetryLoop() {
        DcsFactory etcd = EtcdDcs.connect("http://127.0.0.1:1");
        assertThatThrownBy(() -> FakeMember.builder("orders", etcd).ttl(Duration.ofMillis(500))
                .loopWait(Duration.ofMillis(100)).retryTimeout(Duration.ofMillis(100)).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("ttl must be at least 1 s for etcd").hasMessageContaining("500 ms");
        assertThat(FakeMember.builder("orders", etcd).ttl(Duration.ofSeconds(1)).loopWait(Duration.ofMillis(200))
                .retryTimeout(Duration.ofMillis(400)).build()).as("1 s is etcd's smallest lease").isNotNull();
    }
}
