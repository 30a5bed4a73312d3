package io.pgha.dcs.consul;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.testkit.DcsContractTest;
import io.pgha.core.testkit.ProxiedStore;
import io.pgha.core.testkit.TcpProxy;
import io.pgha.dcs.consul.emulator.ConsulEmulator;
import io.pgha.dcs.consul.emulator.RawConsul;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;

/**
 * The Dcs contract against Consul's HTTP API.
 *
 * <p>By default the store is {@link ConsulEmulator} (an emulator, not Consul: no Consul binary can be installed on
 * the build machines), configured with {@code session_ttl_min = 1 s} so the contract's 5 s ttl (session TTL 2.5 s)
 * is accepted, as a Consul server with that setting would accept it.
 *
 * <p>With {@code -Dpgha.consul.url=http://127.0.0.1:8500} the same tests run against that real agent (loopback
 * only: partitions and crashes go through an in-process {@link TcpProxy}). Optional: {@code -Dpgha.consul.token=...}
 * (ACL token), {@code -Dpgha.consul.sessionTtlMin=10s} (the servers' {@code session_ttl_min}) and
 * {@code -Dpgha.consul.ttl=20s} (default: twice the minimum, at least 10 s). Server restarts are skipped in that
 * mode.
 *
 * <p>Each member reaches the store through its own {@link TcpProxy}: a crash resets its connections and closes the
 * client (the session destroy cannot get through, so the session runs out), a partition blackholes them.
 */
class ConsulDcsContractTest extends DcsContractTest {

    private static final String REAL_URL = System.getProperty("pgha.consul.url", "").trim();
    private static final String REAL_TOKEN = System.getProperty("pgha.consul.token", "").trim();

    private ConsulEmulator emulator;
    private URI target;
    private String token;
    private Duration sessionTtlMin;
    private RawConsul admin;
    private final ProxiedStore store = new ProxiedStore(() -> target.getPort(), this::openMember);

    private boolean real() {
        return !REAL_URL.isEmpty();
    }

    @BeforeAll
    void startStore() throws UnknownHostException {
        if (real()) {
            target = ConsulSettings.parseAgent(REAL_URL);
            if (!InetAddress.getByName(target.getHost()).isLoopbackAddress()) {
                throw new IllegalArgumentException("pgha.consul.url must be a loopback address (crashes and "
                        + "partitions go through an in-process TcpProxy, which forwards to loopback only); got "
                        + REAL_URL);
            }
            token = REAL_TOKEN.isEmpty() ? null : REAL_TOKEN;
            sessionTtlMin = Duration.parse("PT" + System.getProperty("pgha.consul.sessionTtlMin", "10s")
                    .toUpperCase());
        } else {
            emulator = ConsulEmulator.builder().sessionTtlMin(Duration.ofSeconds(1)).start();
            target = emulator.url();
            sessionTtlMin = Duration.ofSeconds(1);
        }
        admin = new RawConsul(target, token);
    }

    @AfterAll
    void stopStore() {
        if (emulator != null) {
            emulator.close();
        }
    }

    @AfterEach
    void closeProxiesAndKeys() {
        // Clients first, so their sessions end cleanly; the contract's own cleanup then finds them closed.
        store.close();
        if (real() || emulator.isRunning()) {
            admin.delete("/v1/kv/" + consulKey(layout(), "") + "?recurse");
        }
    }

    /**
     * 10 s, not the kit's 5 s: an HTTP client notices a silent partition only when each call times out, so the
     * partition test's four calls take 4 x retryTimeout = 8 s, and the key must outlive them for "the other side
     * still works" to see it. (ZooKeeper's client fails calls at once when its connection is suspended.)
     */
    @Override
    protected String storeName() {
        return "Consul";
    }

    @Override
    protected Duration ttl() {
        if (!real()) {
            return super.ttl();
        }
        String t = System.getProperty("pgha.consul.ttl");
        if (t != null) {
            return Duration.parse("PT" + t.toUpperCase());
        }
        Duration min = sessionTtlMin.multipliedBy(2);
        return min.compareTo(Duration.ofSeconds(10)) > 0 ? min : Duration.ofSeconds(10);
    }

    @Override
    protected Set<Capability> capabilities() {
        return real() ? EnumSet.of(Capability.EXPIRE_LEASE, Capability.PARTITION, Capability.INSPECT_LEASE)
                : EnumSet.allOf(Capability.class);
    }

    /** Crash: connections reset, so the session destroy on close cannot get through; partition: blackhole. */
    @Override
    protected ProxiedStore proxiedStore() {
        return store;
    }

    private Dcs openMember(String address, DcsContext context) {
        ConsulSettings.Builder b = ConsulSettings.builder(target.getScheme() + "://" + address)
                .sessionTtlMin(sessionTtlMin);
        if (token != null) {
            b.token(token);
        }
        return ConsulDcs.open(b.build(), context);
    }

    /** Destroys the member's session directly (works against a real agent too). */
    @Override
    protected void expireLease(Dcs member) {
        String id = ((ConsulDcs) member).sessionId();
        assertThat(id).as("the member has a session").isNotNull();
        assertThat(admin.put("/v1/session/destroy/" + id, null).bool()).isTrue();
    }

    /** Asks the agent: a session named after the member's scope and name (works against a real agent too). */
    @Override
    protected boolean holdsLease(Dcs member) {
        RawConsul.Answer list = admin.get("/v1/session/list");
        assertThat(list.status()).isEqualTo(200);
        String name = layout().scope() + "-" + member.memberName();
        for (var s : list.json()) {
            if (name.equals(s.path("Name").asText())) {
                return true;
            }
        }
        return false;
    }

    @Override
    protected void stopServer() {
        emulator.stop();
    }

    @Override
    protected void startServer() {
        emulator.restart();
    }

    @Override
    protected void writeRaw(KeyLayout layout, String key, String value) {
        assertThat(admin.put("/v1/kv/" + consulKey(layout, key), value).bool()).isTrue();
    }

    /** Patroni's key without the leading '/', as the adapter writes it. */
    private static String consulKey(KeyLayout layout, String key) {
        String k = layout.key(key);
        return k.startsWith("/") ? k.substring(1) : k;
    }
}
