package io.pgha.dcs.etcd;

import static io.pgha.dcs.etcd.EtcdJson.decode;
import static io.pgha.dcs.etcd.EtcdLease.hex;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.DcsVersion;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.Member;
import io.pgha.core.spi.ChangeDispatcher;
import io.pgha.core.spi.ClusterViewDecoder;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsCallGuard;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.spi.KeyValueDcs;
import io.pgha.core.spi.MemberNameTakenException;
import io.pgha.core.spi.PatroniJson;
import io.pgha.core.spi.RawNode;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link Dcs} port on etcd v3 through its JSON gateway, with a small blocking HTTP/1.1 client of its own
 * (ha-core's {@code HttpTransport}, docs/decisions 0311) and Jackson only, speaking Patroni's {@code etcd3} protocol and key layout,
 * so pgha and Patroni members can share a cluster (docs/decisions 0301).
 *
 * <ul>
 *   <li>The member's <b>lease is an etcd lease</b> with TTL = the member's ttl (whole seconds). It is granted on the
 *       first write that needs it, kept alive by a daemon thread every {@code keepaliveInterval} (ttl / 3) while the
 *       member keeps calling, and granted anew when a keepalive finds it gone (no {@code TTL} in the answer). The
 *       leader and member keys are attached to it ({@link EtcdLease}).</li>
 *   <li><b>Lease guarantee.</b> {@link #acquireLeader()} and {@link #renewLeader()} send a keepalive (or grant) before
 *       their txn, i.e. after the caller's {@code sentAt}; etcd restarts the lease's countdown when it receives it, so
 *       the key cannot expire before {@code sentAt + TTL}. {@link #leaseGuarantee()} is the granted TTL, capped at the
 *       ttl (docs/decisions 0302).</li>
 *   <li><b>Leader key:</b> created by a txn on {@code create_revision == 0}; renewed by a txn on value = my name and
 *       lease = my lease, re-bound to the current lease when it carries an earlier one of mine; released by a txn on
 *       value = my name and a lease of mine. Its {@code create_revision} is the fencing epoch.</li>
 *   <li>A key attached to a lease this instance never granted belongs to another process, even under our name: the
 *       member key is then refused ({@link MemberNameTakenException}), the leader key neither renewed, re-bound nor
 *       released (docs/decisions 0011).</li>
 *   <li><b>Other keys</b> are compare-and-set on {@code mod_revision}.</li>
 *   <li><b>Reads</b> are one linearizable range over the cluster prefix.</li>
 *   <li><b>Watches:</b> a streaming {@code /watch} on the leader key, another on the {@code members/} prefix once
 *       {@link #watchMembers} is called; each resumed after breaks and re-read after compaction ({@link KeyWatch},
 *       docs/decisions 0303).</li>
 *   <li>Every call is bounded by the member's {@code retryTimeout}, failing over between endpoints
 *       ({@link EtcdGateway}); an unreachable etcd is {@link DcsUnavailableException}, a lost race is {@code false};
 *       while etcd does not answer at all, calls fail fast (docs/decisions 0304).</li>
 *   <li>etcd 3.4 keeps leases across its own restarts and gives them a fresh TTL (docs/decisions 0305).</li>
 * </ul>
 *
 * <p>Thread-safe. Watch callbacks run on a daemon thread owned by this instance, one per watch
 * ({@link ChangeDispatcher}).
 */
public final class EtcdDcs extends KeyValueDcs {

    private static final Logger LOG = LoggerFactory.getLogger(EtcdDcs.class);
    /** A key that keeps changing between our read and our write is given up after this many rounds. */
    private static final int MAX_ROUNDS = 3;

    private final EtcdSettings settings;
    private final DcsContext context;
    private final KeyLayout layout;
    // Remembers each key's decoded value: an idle cluster's keys are read every cycle and rarely change.
    private final ClusterViewDecoder decoder;
    private final String log;
    private final String leaderKey;
    private final String memberKey;
    private final byte[] nameBytes;
    private final String store;
    private final DcsCallGuard calls;
    private final ChangeDispatcher leaderChanges;
    private final ChangeDispatcher memberChanges;
    private final String threads;
    private final EtcdGateway gateway;
    private final EtcdLease lease;

    private volatile KeyWatch watch;
    private volatile KeyWatch membersWatch;
    /** The lease the member key was last published under; 0 before the first publication. */
    private volatile long memberLease;

    // ------------------------------------------------------------------------------------------------ factories

    /** A factory for members connecting to these endpoints (e.g. {@code "http://etcd1:2379"}) with defaults. */
    public static DcsFactory connect(String... endpoints) {
        return connect(EtcdSettings.builder(endpoints).build());
    }

    /**
     * A factory for members connecting with {@code settings}. A member's timings that no etcd lease can honour (ttl
     * under 1 s, retryTimeout not shorter than the lease TTL) are refused when the member is built.
     */
    public static DcsFactory connect(EtcdSettings settings) {
        Objects.requireNonNull(settings, "settings");
        return DcsFactory.of("etcd (" + settings.endpoints() + ")", context -> open(settings, context), context -> {
            settings.keepaliveIntervalFor(context); // checks the lease TTL rules too
            return Duration.ZERO; // etcd tells the TTL it grants only when asked
        });
    }

    /** Opens one member's client. No request is sent until the first call; the lease comes with the first write. */
    public static EtcdDcs open(EtcdSettings settings, DcsContext context) {
        return new EtcdDcs(settings, context);
    }

    private EtcdDcs(EtcdSettings settings, DcsContext context) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.context = Objects.requireNonNull(context, "context");
        String name = context.memberName();
        long requestedTtlSeconds = settings.leaseTtlSecondsFor(context);
        Duration keepaliveInterval = settings.keepaliveIntervalFor(context);
        this.layout = context.layout();
        this.decoder = new ClusterViewDecoder(this.layout);
        this.log = layout.scope() + "/" + name + " - ";
        this.leaderKey = layout.leader();
        this.memberKey = layout.member(name);
        this.nameBytes = name.getBytes(StandardCharsets.UTF_8);
        this.store = "etcd (" + settings.endpoints().stream().map(URI::toString)
                .collect(Collectors.joining(", ")) + ")";
        this.calls = new DcsCallGuard(context, "this etcd client");
        this.threads = "pgha-etcd-" + layout.scope() + "-" + name;
        this.leaderChanges = new ChangeDispatcher(threads + "-callback", log, "leader watch");
        this.memberChanges = new ChangeDispatcher(threads + "-members-callback", log, "member watch");
        this.gateway = new EtcdGateway(settings, context.retryTimeout(), context.clock(), log, this::onSilentEndpoint);
        this.lease = new EtcdLease(gateway, calls, requestedTtlSeconds, keepaliveInterval, log, threads + "-keepalive");
        // Load the JSON machinery now: on a cold JVM its first use can take longer than a short retryTimeout.
        EtcdJson.leaseGrant(requestedTtlSeconds);
        if (context.ttl().getNano() != 0) {
            LOG.warn("{}ttl {} ms is not whole seconds: the etcd lease TTL is {} s", log, context.ttl().toMillis(),
                    requestedTtlSeconds);
        }
        LOG.info("{}etcd client for {} (lease TTL {} s, keepalive every {} ms, retryTimeout {} ms{})", log,
                settings.endpoints(), requestedTtlSeconds, keepaliveInterval.toMillis(),
                context.retryTimeout().toMillis(), settings.user() == null ? "" : ", auth as " + settings.user());
    }

    // ------------------------------------------------------------------------------------------------ identity

    @Override
    public String memberName() {
        return context.memberName();
    }

    /** The settings this member was opened with. */
    public EtcdSettings settings() {
        return settings;
    }

    /** The lease TTL requested from etcd, in seconds (the member's ttl, whole seconds). */
    public long requestedLeaseTtlSeconds() {
        return lease.requestedTtlSeconds();
    }

    /** The current lease ID; 0 while the member holds none. */
    public long leaseId() {
        return lease.id();
    }

    /** The TTL etcd granted the latest lease, in seconds; 0 before the first. */
    public long grantedLeaseTtlSeconds() {
        return lease.grantedTtlSeconds();
    }

    /** The gateway, for tests in this package. */
    EtcdGateway gateway() {
        return gateway;
    }

    /** Leases granted so far (a new one after each loss). */
    int leasesGranted() {
        return lease.granted();
    }

    /** The leader watch, for tests in this package; null until {@link #watchLeader} was called. */
    KeyWatch leaderWatch() {
        return watch;
    }

    /** The member-key watch, for tests in this package; null until {@link #watchMembers} was called. */
    KeyWatch membersWatch() {
        return membersWatch;
    }

    // ------------------------------------------------------------------------------------------------ reads

    @Override
    public ClusterView read() throws DcsUnavailableException {
        String what = "read the cluster";
        long deadline = calls.begin(what);
        // Linearizable (no "serializable"): a member cut off from the etcd quorum cannot serve a stale view.
        JsonNode r = gateway.post(what, "/kv/range", EtcdJson.rangePrefix(layout.prefix()), deadline, true);
        List<RawNode> nodes = new ArrayList<>();
        for (EtcdJson.Kv kv : decode(what, () -> EtcdJson.kvs(r))) {
            String rel = layout.relative(kv.key());
            if (rel == null || rel.isEmpty()) {
                continue;
            }
            long epoch = rel.equals(KeyLayout.LEADER) ? kv.createRevision() : 0;
            nodes.add(new RawNode(rel, kv.value(), kv.modRevision(), epoch));
        }
        return decoder.view(nodes);
    }

    // ------------------------------------------------------------------------------------------------ leader key

    @Override
    public boolean acquireLeader() throws DcsUnavailableException {
        String what = "acquire the leader key";
        long deadline = calls.beginLeaseCall(what);
        return lease.withLease(what, deadline, true, id -> {
            EtcdJson.TxnResult t = txn(what, List.of(EtcdJson.absent(leaderKey)),
                    List.of(EtcdJson.op("request_put", EtcdJson.put(leaderKey, nameBytes, id))),
                    List.of(EtcdJson.op("request_range", EtcdJson.range(leaderKey))), deadline);
            if (t.succeeded()) {
                LOG.info("{}acquired the leader key {} (lease {}, epoch {})", log, leaderKey, hex(id), t.revision());
                return true;
            }
            // Our own earlier attempt may have created it before its answer was lost: that still counts as ours.
            List<EtcdJson.Kv> kvs = decode(what, () -> t.rangeKvs(0));
            return !kvs.isEmpty() && holdsMyName(kvs.get(0)) && kvs.get(0).lease() == id;
        });
    }

    @Override
    public boolean renewLeader() throws DcsUnavailableException {
        String what = "renew the leader key";
        long deadline = calls.beginLeaseCall(what);
        return lease.withLease(what, deadline, true, id -> {
            // No write when the key is ours under this lease: the keepalive just sent is what keeps it, and replicas
            // watching the key are not woken by a renew.
            EtcdJson.TxnResult t = txn(what,
                    List.of(EtcdJson.valueEquals(leaderKey, nameBytes), EtcdJson.leaseEquals(leaderKey, id)),
                    List.of(), List.of(EtcdJson.op("request_range", EtcdJson.range(leaderKey))), deadline);
            if (t.succeeded()) {
                return true;
            }
            List<EtcdJson.Kv> kvs = decode(what, () -> t.rangeKvs(0));
            if (kvs.isEmpty() || !holdsMyName(kvs.get(0))) {
                return false;
            }
            EtcdJson.Kv old = kvs.get(0);
            if (!ours(old)) {
                LOG.warn("{}the leader key {} holds our name but is attached to lease {}, which is not ours (another "
                        + "process with this name, or an earlier one whose lease has not run out): not renewing it",
                        log, leaderKey, hex(old.lease()));
                return false;
            }
            // Our name under an earlier lease of ours (lost and granted anew) or none: re-bind it to this lease, or it
            // vanishes with the old one while we lead. Losing that txn to anyone = lost.
            EtcdJson.TxnResult rebind = txn(what, List.of(EtcdJson.modRevision(leaderKey, old.modRevision())),
                    List.of(EtcdJson.op("request_put", EtcdJson.put(leaderKey, nameBytes, id))), List.of(), deadline);
            if (rebind.succeeded()) {
                LOG.info("{}re-bound the leader key to lease {} (it was attached to lease {})", log, hex(id),
                        hex(old.lease()));
            }
            return rebind.succeeded();
        });
    }

    @Override
    public boolean releaseLeader() throws DcsUnavailableException {
        String what = "release the leader key";
        long deadline = calls.begin(what);
        EtcdJson.TxnResult t = txn(what, List.of(EtcdJson.valueEquals(leaderKey, nameBytes),
                        EtcdJson.leaseEquals(leaderKey, leaseId())),
                List.of(EtcdJson.op("request_delete_range", EtcdJson.delete(leaderKey))),
                List.of(EtcdJson.op("request_range", EtcdJson.range(leaderKey))), deadline);
        if (!t.succeeded()) {
            // Our name under an earlier lease of ours (or none) is still ours to release; anyone else's is not.
            List<EtcdJson.Kv> kvs = decode(what, () -> t.rangeKvs(0));
            if (kvs.isEmpty() || !holdsMyName(kvs.get(0)) || !ours(kvs.get(0))) {
                return false;
            }
            EtcdJson.TxnResult again = txn(what, List.of(EtcdJson.modRevision(leaderKey, kvs.get(0).modRevision())),
                    List.of(EtcdJson.op("request_delete_range", EtcdJson.delete(leaderKey))), List.of(), deadline);
            if (!again.succeeded()) {
                return false;
            }
        }
        LOG.info("{}released the leader key {}", log, leaderKey);
        return true;
    }

    /**
     * The lease TTL etcd granted, capped at the ttl. A grant longer than the ttl (etcd's minimum lease TTL) only makes
     * a crashed leader's key live longer; the HA loop keeps its own, shorter, promise. Before the first lease (granted
     * by the first write) it is the ttl that lease will be asked for, since etcd never grants less: the HA loop checks
     * its timings against this at start, before it has written anything.
     */
    @Override
    public Duration leaseGuarantee() {
        return lease.guarantee();
    }

    @Override
    public void watchLeader(Runnable onChange) {
        Objects.requireNonNull(onChange, "onChange");
        leaderChanges.add(onChange);
        leaderChanges.startWatchOnce(() -> {
            watch = new KeyWatch(gateway, leaderKey, false, "the leader key", log, calls, leaderChanges::changed,
                    threads + "-watch");
            watch.start();
            return watch::stop;
        });
    }

    /** A second stream, on the {@code members/} prefix; like the leader watch it reads and watches, never writes. */
    @Override
    public void watchMembers(Runnable onChange) {
        Objects.requireNonNull(onChange, "onChange");
        memberChanges.add(onChange);
        memberChanges.startWatchOnce(() -> {
            membersWatch = new KeyWatch(gateway, layout.key(KeyLayout.MEMBERS), true, "the member keys", log, calls,
                    memberChanges::changed, threads + "-members-watch");
            membersWatch.start();
            return membersWatch::stop;
        });
    }

    // ------------------------------------------------------------------------------------------------ best effort

    @Override
    public void touchMember(Member data) throws DcsUnavailableException, MemberNameTakenException {
        Objects.requireNonNull(data, "data");
        if (!data.name().equals(memberName())) {
            throw new IllegalArgumentException("touchMember: member '" + data.name()
                    + "' is not the member this session acts for ('" + memberName() + "')");
        }
        String what = "publish the member key";
        long deadline = calls.beginLeaseCall(what);
        byte[] bytes = PatroniJson.encodeMember(data);
        AtomicReference<EtcdJson.Kv> foreign = new AtomicReference<>();
        boolean written = lease.withLease(what, deadline, false, id -> {
            List<ObjectNode> putWithLease = List.of(EtcdJson.op("request_put", EtcdJson.put(memberKey, bytes, id)));
            for (int round = 0; round < MAX_ROUNDS; round++) {
                // Only onto a key of this lease (one txn, the usual case); never over another process's key.
                EtcdJson.TxnResult t = txn(what, List.of(EtcdJson.leaseEquals(memberKey, id)), putWithLease,
                        List.of(EtcdJson.op("request_range", EtcdJson.range(memberKey))), deadline);
                if (t.succeeded()) {
                    memberLease = id;
                    return true;
                }
                List<EtcdJson.Kv> kvs = decode(what, () -> t.rangeKvs(0));
                ObjectNode unchanged;
                if (kvs.isEmpty()) {
                    unchanged = EtcdJson.absent(memberKey);
                } else if (ours(kvs.get(0))) {
                    // Left by an earlier lease of ours (or written without one): re-bind it to this lease.
                    unchanged = EtcdJson.modRevision(memberKey, kvs.get(0).modRevision());
                } else {
                    foreign.set(kvs.get(0));
                    return false;
                }
                if (txn(what, List.of(unchanged), putWithLease, List.of(), deadline).succeeded()) {
                    memberLease = id;
                    return true;
                }
            }
            throw new DcsUnavailableException(what + " " + memberKey + ": the key changed under us " + MAX_ROUNDS
                    + " times in a row; giving up for this cycle");
        });
        if (!written) {
            throw new MemberNameTakenException(memberName(), layout.scope(), store, "lease "
                    + hex(foreign.get().lease()));
        }
    }

    /**
     * The background keepalives keep the lease; this only counts as the member's call for the idle rule. The key is
     * held while the lease it was written under is still the current one (a lease found gone is dropped).
     */
    @Override
    public boolean memberKeyHeld() throws DcsUnavailableException {
        calls.beginLeaseCall("keep the member key");
        return lease.isCurrent(memberLease);
    }

    @Override
    public void deleteMember() throws DcsUnavailableException {
        String what = "delete the member key";
        long deadline = calls.begin(what);
        EtcdJson.TxnResult t = txn(what, List.of(EtcdJson.leaseEquals(memberKey, leaseId())),
                List.of(EtcdJson.op("request_delete_range", EtcdJson.delete(memberKey))),
                List.of(EtcdJson.op("request_range", EtcdJson.range(memberKey))), deadline);
        if (t.succeeded()) {
            return;
        }
        List<EtcdJson.Kv> kvs = decode(what, () -> t.rangeKvs(0));
        if (kvs.isEmpty()) {
            return;
        }
        if (!ours(kvs.get(0))) {
            LOG.info("{}not deleting the member key {}: it is attached to lease {}, not to this member", log,
                    memberKey, hex(kvs.get(0).lease()));
            return;
        }
        txn(what, List.of(EtcdJson.modRevision(memberKey, kvs.get(0).modRevision())),
                List.of(EtcdJson.op("request_delete_range", EtcdJson.delete(memberKey))), List.of(), deadline);
    }

    // ------------------------------------------------------------------------------------------------ close

    /**
     * Revokes the lease, so etcd deletes this member's leader and member keys at once, stops the threads and releases
     * the client. If etcd cannot be reached the keys expire with the lease, as after a crash. Returns within
     * {@code retryTimeout}.
     */
    @Override
    public void close() {
        if (!stopThreads()) {
            return;
        }
        lease.revoke();
        gateway.close();
    }

    /**
     * The process dies, for tests: threads stop and the client is dropped without revoking the lease, so etcd keeps
     * the keys until the lease runs out.
     */
    void abandon() {
        if (stopThreads()) {
            gateway.close();
            LOG.info("{}abandoned without revoking lease {} (simulated crash)", log, hex(leaseId()));
        }
    }

    private boolean stopThreads() {
        if (!calls.close()) {
            return false;
        }
        lease.stopKeepalives();
        // Each stops its watch too.
        leaderChanges.close();
        memberChanges.close();
        return true;
    }

    @Override
    public String toString() {
        return "EtcdDcs[" + layout.scope() + "/" + memberName() + " @ " + settings.endpoints() + "]";
    }

    // ------------------------------------------------------------------------------------------------ CAS helpers

    @Override
    protected boolean compareAndSet(String what, String key, byte[] data, long expected)
            throws DcsUnavailableException {
        long deadline = calls.begin(what);
        String path = layout.key(key);
        if (expected == ANY_VERSION) {
            gateway.post(what, "/kv/put", EtcdJson.put(path, data, 0), deadline, true);
            return true;
        }
        ObjectNode cmp = expected == DcsVersion.ABSENT ? EtcdJson.absent(path)
                : EtcdJson.modRevision(path, revision(what, expected));
        return txn(what, List.of(cmp), List.of(EtcdJson.op("request_put", EtcdJson.put(path, data, 0))), List.of(),
                deadline).succeeded();
    }

    @Override
    protected boolean compareAndDelete(String what, String key, long expected) throws DcsUnavailableException {
        long deadline = calls.begin(what);
        String path = layout.key(key);
        if (expected == ANY_VERSION) {
            gateway.post(what, "/kv/deleterange", EtcdJson.delete(path), deadline, true);
            return true;
        }
        if (expected == DcsVersion.ABSENT) {
            // "Delete it if it is absent": true exactly when there is nothing to delete.
            return txn(what, List.of(EtcdJson.absent(path)), List.of(), List.of(), deadline).succeeded();
        }
        return txn(what, List.of(EtcdJson.modRevision(path, revision(what, expected))),
                List.of(EtcdJson.op("request_delete_range", EtcdJson.delete(path))), List.of(), deadline)
                .succeeded();
    }

    /** A compare-and-set: not repeated on another endpoint after a lost answer (its outcome is unknown). */
    private EtcdJson.TxnResult txn(String what, List<ObjectNode> compare, List<ObjectNode> success,
            List<ObjectNode> failure, long deadline) throws DcsUnavailableException {
        JsonNode r = gateway.post(what, "/kv/txn", EtcdJson.txn(compare, success, failure), deadline, false);
        return decode(what, () -> EtcdJson.txnResult(r));
    }

    /** etcd revisions start at 1; anything else is not a version read from etcd. */
    private static long revision(String what, long expected) {
        if (expected < 1) {
            throw new IllegalArgumentException(what + ": expectedVersion must be an etcd mod_revision read from the "
                    + "store (1 or more), DcsVersion.ABSENT or Dcs.ANY_VERSION (got " + expected + ")");
        }
        return expected;
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /** Attached to a lease this instance was granted, or to none (written by hand). */
    private boolean ours(EtcdJson.Kv kv) {
        return kv.lease() == 0 || lease.wasGranted(kv.lease());
    }

    private boolean holdsMyName(EtcdJson.Kv kv) {
        return Arrays.equals(kv.value(), nameBytes)
                || new String(kv.value(), StandardCharsets.UTF_8).trim().equals(memberName());
    }

    private void onSilentEndpoint(URI endpoint) {
        for (KeyWatch w : new KeyWatch[] {watch, membersWatch}) {
            if (w != null) {
                w.dropStreamOn(endpoint);
            }
        }
    }
}
