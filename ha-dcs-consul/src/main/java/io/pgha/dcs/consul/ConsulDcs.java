package io.pgha.dcs.consul;

import static io.pgha.dcs.consul.ConsulKv.indexOp;
import static io.pgha.dcs.consul.ConsulKv.lockOp;
import static io.pgha.dcs.consul.ConsulKv.mentionsInvalidSession;
import static io.pgha.dcs.consul.ConsulKv.op;
import static io.pgha.dcs.consul.ConsulKv.parseBool;
import static io.pgha.dcs.consul.ConsulKv.parseEntries;

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
import io.pgha.dcs.consul.ConsulKv.KvEntry;
import io.pgha.dcs.consul.ConsulKv.TxnOutcome;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link Dcs} port on Consul's KV store and sessions, over the JDK {@code HttpClient}, with Patroni's key layout
 * and values (keys without the leading '/', as Patroni writes them), so pgha and Patroni members can share a cluster.
 *
 * <ul>
 *   <li>The member's <b>lease is a Consul session</b> ({@code Behavior=delete}, no health checks, an explicit
 *       {@code LockDelay} of 1 ms by default) with a TTL of <b>ttl/2</b>: Consul may keep a session for up to twice
 *       its TTL, so a dead member's keys are gone within the ttl (docs/decisions 0402). Consul's minimum session TTL
 *       (10 s) therefore makes 20 s the minimum ttl. {@link #leaseGuarantee()} is the session TTL, the lower bound
 *       Consul documents.</li>
 *   <li>The session is created on the first write and renewed by a daemon thread every TTL/3 <em>while the member
 *       shows signs of life</em> (any call within the last ttl), and by {@link #acquireLeader()} and
 *       {@link #renewLeader()} themselves, before they touch the key, so the lease counts from a renewal sent after
 *       the caller's {@code sentAt}. A renewal answered 404 means the session is gone: a new one is created.</li>
 *   <li>The <b>leader key</b> is created only by a transaction {@code [check-not-exists, lock]}, the only atomic
 *       create-if-absent bound to a session that Consul offers ({@code ?acquire} alone takes a key that exists
 *       without a holder, and Consul refuses {@code ?acquire} together with {@code ?cas}; docs/decisions 0404). Its
 *       epoch (fencing token) is the key's {@code CreateIndex}: the key is deleted whenever leadership ends, so its
 *       {@code LockIndex} would always be 1.</li>
 *   <li>A key held by a session this instance never created belongs to another process, even under our name: the
 *       member key is then refused ({@link MemberNameTakenException}), the leader key neither renewed, re-bound nor
 *       released (docs/decisions 0011).</li>
 *   <li>Member keys are written with {@code ?acquire=<session>}. Compare-and-set keys use {@code ?cas=<ModifyIndex>}
 *       ({@code cas=0} = create only); compare-and-delete uses a transaction {@code [check-index, delete]} because
 *       {@code DELETE ?cas} answers true for a key that no longer exists.</li>
 *   <li>Reads are one recursive GET of the cluster prefix with {@code ?consistent} (configurable). The leader key is
 *       watched with a blocking query on a daemon thread ({@link ConsulKeyWatch}), the member keys (once
 *       {@link #watchMembers} is called) with a recursive one on another; the callbacks run on a daemon thread owned
 *       by this instance, one per watch ({@link ChangeDispatcher}), never on the watch's.</li>
 *   <li>Every call is bounded by the member's {@code retryTimeout}; transport failures, 403 and 5xx answers become
 *       {@link DcsUnavailableException}; a lost race is {@code false}.</li>
 * </ul>
 *
 * <p>Thread-safe. Verified against {@code ConsulEmulator} (an emulator of Consul's HTTP API, not Consul) and, when
 * one is available, a real agent: see {@code docs/consul-settings.md}.
 */
public final class ConsulDcs extends KeyValueDcs {

    private static final Logger LOG = LoggerFactory.getLogger(ConsulDcs.class);
    /** A key that keeps changing between our read and our write is given up after this many rounds. */
    private static final int MAX_ROUNDS = 3;
    /** Newer Consul versions reject KV keys with other characters. */
    private static final Pattern CONSUL_KEY_CHARS = Pattern.compile("[A-Za-z0-9,._/-]*");

    private final ConsulSettings settings;
    private final DcsContext context;
    private final KeyLayout layout;
    // Remembers each key's decoded value: an idle cluster's keys are read every cycle and rarely change.
    private final ClusterViewDecoder decoder;
    private final String log;
    private final String prefix;
    private final String leaderKey;
    private final String memberKey;
    private final String name;
    private final byte[] nameBytes;
    private final String store;
    private final DcsCallGuard calls;
    private final ConsulHttp http;
    private final ConsulKv kv;
    private final ConsulSession sessions;
    /** The session the member key was last acquired with; null before the first publication. */
    private volatile String memberSession;
    private final ChangeDispatcher leaderChanges;
    private final ChangeDispatcher memberChanges;

    // ------------------------------------------------------------------------------------------------ factories

    /** A factory for members talking to the Consul agent at {@code agentUrl} with default settings. */
    public static DcsFactory connect(String agentUrl) {
        return connect(ConsulSettings.builder(agentUrl).build());
    }

    /**
     * A factory for members connecting with {@code settings}. A member's timings that no Consul session can honour
     * (ttl below twice {@code sessionTtlMin}, ttl/2 not longer than retryTimeout) are refused when the member is built.
     */
    public static DcsFactory connect(ConsulSettings settings) {
        Objects.requireNonNull(settings, "settings");
        return DcsFactory.of("Consul (" + settings.agents() + ")", context -> open(settings, context), context -> {
            settings.sessionTtlFor(context);
            return Duration.ZERO; // Consul may grant a longer session TTL than asked: known only once granted
        });
    }

    /**
     * Opens one member. Nothing is sent yet: the session is created by the first write, so a read-only user never
     * holds one.
     *
     * @throws IllegalArgumentException when the member's timings do not fit Consul (ttl below twice
     *                                  {@code sessionTtlMin}, or ttl/2 not longer than retryTimeout)
     */
    public static ConsulDcs open(ConsulSettings settings, DcsContext context) {
        return new ConsulDcs(settings, context);
    }

    private ConsulDcs(ConsulSettings settings, DcsContext context) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.context = Objects.requireNonNull(context, "context");
        this.name = context.memberName();
        this.layout = context.layout();
        this.decoder = new ClusterViewDecoder(this.layout);
        this.log = layout.scope() + "/" + name + " - ";
        String p = layout.prefix();
        this.prefix = p.startsWith("/") ? p.substring(1) : p;
        this.leaderKey = prefix + KeyLayout.LEADER;
        this.memberKey = prefix + KeyLayout.MEMBERS + name;
        this.nameBytes = name.getBytes(StandardCharsets.UTF_8);
        this.store = "Consul (" + settings.agents().stream().map(Object::toString)
                .collect(Collectors.joining(", ")) + ")";
        this.calls = new DcsCallGuard(context, "this Consul client");
        this.http = new ConsulHttp(settings, settings.connectTimeoutFor(context), context.clock(),
                "pgha-consul-http-" + layout.scope() + "-" + name, log);
        this.kv = new ConsulKv(settings, http, prefix);
        this.sessions = new ConsulSession(settings, context, calls, http, log);
        this.leaderChanges = new ChangeDispatcher("pgha-consul-callback-" + layout.scope() + "-" + name, log,
                "leader watch");
        this.memberChanges = new ChangeDispatcher("pgha-consul-members-callback-" + layout.scope() + "-" + name, log,
                "member watch");
        if (!CONSUL_KEY_CHARS.matcher(memberKey).matches()) {
            LOG.warn("{}the key {} has characters that Consul 1.22+ rejects in KV keys (allowed: letters, digits and "
                    + ",-_./); writes will fail there with 400", log, memberKey);
        }
        LOG.info("{}using Consul {} (session TTL {} = ttl/2, lock delay {} ms, {} reads{}{})", log,
                settings.agents(), ConsulSettings.seconds(sessions.ttl()), settings.lockDelay().toMillis(),
                settings.consistency().name().toLowerCase(Locale.ROOT),
                settings.datacenter() == null ? "" : ", datacenter " + settings.datacenter(),
                settings.token() == null ? "" : ", with an ACL token");
    }

    // ------------------------------------------------------------------------------------------------ identity

    @Override
    public String memberName() {
        return name;
    }

    /** The settings this member was opened with. */
    public ConsulSettings settings() {
        return settings;
    }

    /** The session TTL requested from Consul: half the member's ttl. */
    public Duration sessionTtl() {
        return sessions.ttl();
    }

    /** The current Consul session id, or null before the first write and after the session was lost. */
    public String sessionId() {
        return sessions.id();
    }

    /** The key prefix of this cluster in Consul, e.g. {@code service/orders/}. */
    public String keyPrefix() {
        return prefix;
    }

    // ------------------------------------------------------------------------------------------------ reads

    @Override
    public ClusterView read() throws DcsUnavailableException {
        long deadline = calls.begin("read the cluster");
        String what = "read the cluster " + prefix;
        ConsulHttp.Response r = http.send(what, "GET", "kv/" + prefix, kv.readQuery("recurse", null), null, deadline);
        if (r.filteredByAcls()) {
            // An empty or partial view would look like a cluster without a leader: never hand that to the HA loop.
            throw new DcsUnavailableException(what + ": Consul left out keys the ACL token may not read; the token "
                    + "needs key:read (and key:write) on " + prefix);
        }
        if (r.status() == 404) {
            return ClusterViewDecoder.decode(layout, List.of());
        }
        if (r.status() != 200) {
            throw ConsulHttp.unexpected(what, r);
        }
        List<RawNode> nodes = new ArrayList<>();
        for (KvEntry e : parseEntries(what, r)) {
            if (!e.key().startsWith(prefix) || e.key().length() == prefix.length()) {
                continue;
            }
            String rel = e.key().substring(prefix.length());
            long epoch = rel.equals(KeyLayout.LEADER) ? e.createIndex() : 0;
            nodes.add(new RawNode(rel, e.value(), e.modifyIndex(), epoch));
        }
        return decoder.view(nodes);
    }

    // ------------------------------------------------------------------------------------------------ leader key

    @Override
    public boolean acquireLeader() throws DcsUnavailableException {
        long deadline = calls.beginLeaseCall("acquire the leader key");
        String what = "acquire the leader key " + leaderKey;
        // Consul counts a session's TTL from its last renewal, not from a lock: renew first, so the lease of a key we
        // create now runs from after the caller's sentAt.
        String s = sessions.renewed(what, deadline);
        for (int round = 0; round < 2; round++) {
            TxnOutcome t = kv.txn(what, deadline, op("check-not-exists", leaderKey), lockOp(leaderKey, nameBytes, s));
            if (t.ok()) {
                LOG.info("{}acquired the leader key {} (session {})", log, leaderKey, s);
                return true;
            }
            if (t.sessionGone()) {
                s = sessions.replace(s, what, deadline);
                continue;
            }
            if (t.lockDelay()) {
                LOG.info("{}the leader key {} is free but still in Consul's lock delay (session LockDelay of the "
                        + "previous holder)", log, leaderKey);
                return false;
            }
            break;
        }
        // Our own earlier attempt may have created it before its answer was lost: that still counts as ours.
        KvEntry e = kv.get(what, leaderKey, deadline);
        return e != null && e.holds(name) && s.equals(e.session());
    }

    @Override
    public boolean renewLeader() throws DcsUnavailableException {
        long deadline = calls.beginLeaseCall("renew the leader key");
        String what = "renew the leader key " + leaderKey;
        String s = sessions.renewed(what, deadline);
        KvEntry e = kv.get(what, leaderKey, deadline);
        if (e == null || !e.holds(name)) {
            return false;
        }
        if (s.equals(e.session())) {
            // The session renewal above is what keeps the key: no write, so watchers are not woken.
            return true;
        }
        // Our name under an earlier session of ours (lost while Consul kept the key) or under none: re-bind it to this
        // session, or it would vanish when that session ends. A key held by a session that is not ours is lost.
        if (!sessions.isOurs(e.session())) {
            LOG.warn("{}the leader key {} holds our name but belongs to session {}, which is not ours (another "
                    + "process with this name, or an earlier one whose session has not ended): not renewing it", log,
                    leaderKey, e.session());
            return false;
        }
        TxnOutcome t = kv.txn(what, deadline, indexOp("check-index", leaderKey, e.modifyIndex()),
                op("delete", leaderKey), lockOp(leaderKey, nameBytes, s));
        if (t.ok()) {
            LOG.info("{}re-bound the leader key {} to the current session {} (it was held by {})", log, leaderKey, s,
                    e.session() == null ? "no session" : "session " + e.session());
            return true;
        }
        LOG.warn("{}lost the leader key {} while re-binding it to session {}: {}", log, leaderKey, s, t.errors());
        return false;
    }

    @Override
    public boolean releaseLeader() throws DcsUnavailableException {
        long deadline = calls.begin("release the leader key");
        String what = "release the leader key " + leaderKey;
        KvEntry e = kv.get(what, leaderKey, deadline);
        if (e == null || !e.holds(name) || !sessions.isOurs(e.session())) {
            return false;
        }
        TxnOutcome t = kv.txn(what, deadline, indexOp("check-index", leaderKey, e.modifyIndex()),
                op("delete", leaderKey));
        if (t.ok()) {
            LOG.info("{}released the leader key {}", log, leaderKey);
        }
        return t.ok();
    }

    @Override
    public Duration leaseGuarantee() {
        return sessions.leaseGuarantee();
    }

    @Override
    public void watchLeader(Runnable onChange) {
        Objects.requireNonNull(onChange, "onChange");
        leaderChanges.add(onChange);
        // The first state is read here, before returning, so a change the caller makes next is seen as a change.
        leaderChanges.startWatchOnce(() -> startWatch(leaderKey, false, leaderChanges, "pgha-consul-watch-"));
    }

    /** A second blocking query, recursive on {@code members/}; like the leader watch it creates no session. */
    @Override
    public void watchMembers(Runnable onChange) {
        Objects.requireNonNull(onChange, "onChange");
        memberChanges.add(onChange);
        memberChanges.startWatchOnce(() -> startWatch(prefix + KeyLayout.MEMBERS, true, memberChanges,
                "pgha-consul-members-watch-"));
    }

    private Runnable startWatch(String key, boolean recurse, ChangeDispatcher to, String thread) {
        ConsulKeyWatch w = new ConsulKeyWatch(settings, http, calls, key, recurse, log, to::changed,
                thread + layout.scope() + "-" + name);
        w.start();
        return w::stop;
    }

    // ------------------------------------------------------------------------------------------------ CAS keys

    // ------------------------------------------------------------------------------------------------ best effort

    @Override
    public void touchMember(Member data) throws DcsUnavailableException, MemberNameTakenException {
        Objects.requireNonNull(data, "data");
        if (!data.name().equals(name)) {
            throw new IllegalArgumentException("touchMember: member '" + data.name()
                    + "' is not the member this session acts for ('" + name + "')");
        }
        long deadline = calls.beginLeaseCall("publish the member key");
        String what = "publish the member key " + memberKey;
        byte[] bytes = PatroniJson.encodeMember(data);
        String s = sessions.currentOrNew(what, deadline);
        boolean refusedOnAbsentKey = false;
        for (int round = 0; round < MAX_ROUNDS; round++) {
            ConsulHttp.Response r = http.send(what, "PUT", "kv/" + memberKey, List.of("acquire", s), bytes, deadline);
            if (r.status() == 500 && mentionsInvalidSession(r.text())) {
                s = sessions.replace(s, what, deadline);
                continue;
            }
            if (r.status() != 200) {
                throw ConsulHttp.unexpected(what, r);
            }
            if (parseBool(what, r)) {
                memberSession = s;
                return;
            }
            // Held by another session, or refused during a lock delay.
            KvEntry e = kv.get(what, memberKey, deadline);
            if (e == null) {
                refusedOnAbsentKey = true;
                continue;
            }
            if (!sessions.isOurs(e.session())) {
                throw new MemberNameTakenException(name, layout.scope(), store, "session " + e.session());
            }
            // Held by an earlier session of ours (lost while Consul kept the key): re-bind it to this one.
            TxnOutcome t = kv.txn(what, deadline, indexOp("check-index", memberKey, e.modifyIndex()),
                    op("delete", memberKey), lockOp(memberKey, bytes, s));
            if (t.ok()) {
                LOG.info("{}re-bound the member key {} to session {} (it was held by {})", log, memberKey, s,
                        e.session() == null ? "no session" : "session " + e.session());
                memberSession = s;
                return;
            }
            if (t.sessionGone()) {
                s = sessions.replace(s, what, deadline);
            } else if (t.lockDelay()) {
                refusedOnAbsentKey = true;
            }
        }
        throw new DcsUnavailableException(what + ": " + (refusedOnAbsentKey
                ? "Consul refused the lock, most likely during the lock delay after a previous session of this "
                        + "member ended; retrying next cycle"
                : "the key changed under us " + MAX_ROUNDS + " times in a row; giving up for this cycle"));
    }

    /**
     * The renewer keeps the session; this only counts as the member's call for the idle rule. The key is held while
     * the session it was acquired with is still the current one (a session found gone is dropped).
     */
    @Override
    public boolean memberKeyHeld() throws DcsUnavailableException {
        calls.beginLeaseCall("keep the member key");
        String s = sessions.id();
        return s != null && s.equals(memberSession);
    }

        @Override
    public void deleteMember() throws DcsUnavailableException {
        long deadline = calls.begin("delete the member key");
        String what = "delete the member key " + memberKey;
        KvEntry e = kv.get(what, memberKey, deadline);
        if (e == null) {
            return;
        }
        if (!sessions.isOurs(e.session())) {
            LOG.info("{}not deleting the member key {}: it is held by session {}, not by this member", log, memberKey,
                    e.session());
            return;
        }
        kv.txn(what, deadline, indexOp("check-index", memberKey, e.modifyIndex()), op("delete", memberKey));
    }

    // ------------------------------------------------------------------------------------------------ close

    /**
     * Destroys the session, so Consul deletes this member's leader and member keys at once, and stops the threads.
     * If Consul cannot be reached within {@code retryTimeout}, the keys expire with the session (within the ttl).
     */
    @Override
    public void close() {
        if (!calls.close()) {
            return;
        }
        // Each stops its watch too.
        leaderChanges.close();
        memberChanges.close();
        sessions.close();
        http.close();
    }

    @Override
    public String toString() {
        return "ConsulDcs[" + layout.scope() + "/" + name + " @ " + settings.agents() + "]";
    }

    @Override
    protected boolean compareAndSet(String what, String rel, byte[] data, long expected)
            throws DcsUnavailableException {
        long deadline = calls.begin(what);
        String key = prefix + rel;
        List<String> q;
        if (expected == DcsVersion.ABSENT) {
            q = List.of("cas", "0");
        } else if (expected == ANY_VERSION) {
            q = List.of();
        } else {
            q = List.of("cas", Long.toString(modifyIndex(what, expected)));
        }
        ConsulHttp.Response r = http.send(what + " " + key, "PUT", "kv/" + key, q, data, deadline);
        if (r.status() != 200) {
            throw ConsulHttp.unexpected(what + " " + key, r);
        }
        return parseBool(what, r);
    }

    @Override
    protected boolean compareAndDelete(String what, String rel, long expected) throws DcsUnavailableException {
        long deadline = calls.begin(what);
        String key = prefix + rel;
        if (expected == DcsVersion.ABSENT) {
            // "Delete it if it is absent": true exactly when there is nothing to delete.
            return kv.get(what + " " + key, key, deadline) == null;
        }
        if (expected == ANY_VERSION) {
            ConsulHttp.Response r = http.send(what + " " + key, "DELETE", "kv/" + key, List.of(), null, deadline);
            if (r.status() != 200) {
                throw ConsulHttp.unexpected(what + " " + key, r);
            }
            return true;
        }
        // Not DELETE ?cas=: Consul answers true to it when the key is already gone.
        return kv.txn(what + " " + key, deadline, indexOp("check-index", key, modifyIndex(what, expected)),
                op("delete", key)).ok();
    }

    /** Consul's ModifyIndex is at least 1; anything else would turn a compare-and-set into something else. */
    private static long modifyIndex(String what, long expected) {
        if (expected < 1) {
            throw new IllegalArgumentException(what + ": expectedVersion must be a ModifyIndex read from Consul "
                    + "(>= 1), DcsVersion.ABSENT or Dcs.ANY_VERSION (got " + expected + ")");
        }
        return expected;
    }

}
