package io.pgha.examples.e2e;

import io.pgha.dcs.consul.emulator.ConsulEmulator;
import java.net.URI;
import java.time.Duration;
import java.util.Map;
import java.util.function.Consumer;

/**
 * ha-dcs-consul's {@link ConsulEmulator} (an emulator of Consul's HTTP API, not Consul: no Consul server can be
 * installed on this machine, see docs/decisions/0405), in the test JVM. The members are still separate processes
 * that reach it over HTTP through their proxies.
 */
final class ConsulStore extends StoreUnderTest {

    // Consul refuses session TTLs below session_ttl_min (10 s by default). The adapter asks for ttl/2, so the
    // emulator's minimum is lowered like a Consul server's session_ttl_min, and the members are told the same.
    private static final Duration SESSION_TTL_MIN = Duration.ofSeconds(5);

    private final ConsulEmulator emulator;

    ConsulStore() {
        emulator = ConsulEmulator.builder().sessionTtlMin(SESSION_TTL_MIN).start();
    }

    /** Tells {@code onRequest} of every request the emulator answers (the members' and any other client's). */
    ConsulStore(Consumer<ConsulEmulator.Request> onRequest) {
        emulator = ConsulEmulator.builder().sessionTtlMin(SESSION_TTL_MIN).onRequest(onRequest).start();
    }

    /** The emulator's own URL: no proxy in between. */
    URI url() {
        return emulator.url();
    }

    @Override
    String section() {
        return "consul";
    }

    @Override
    Timings timings() {
        // Consul guarantees a session only ttl/2 (6 s) after a renewal: loop_wait + 2*retry_timeout = 5 s fits.
        return new Timings(Duration.ofSeconds(12), Duration.ofSeconds(1), Duration.ofSeconds(2));
    }

    @Override
    int port() {
        return emulator.port();
    }

    @Override
    Map<String, Object> memberSection(String endpoint) {
        return Map.of("url", "http://" + endpoint, "session_ttl_min", SESSION_TTL_MIN.toSeconds());
    }

    @Override
    void stopServer() {
        emulator.close();
    }
}
