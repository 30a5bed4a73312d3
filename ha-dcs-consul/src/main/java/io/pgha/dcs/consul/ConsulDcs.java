package io.pgha.dcs.consul;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.DcsVersion;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.Member;
import io.pgha.core.spi.ClusterViewDecoder;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.spi.KeyValueDcs;
import io.pgha.core.spi.PatroniJson;
import io.pgha.core.spi.RawNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
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
 *   <li>Member keys are written with {@code ?acquire=<session>}. Compare-and-set keys use {@code ?cas=<ModifyIndex>}
 *       ({@code cas=0} = create only); compare-and-delete uses a transaction {@code [check-index, delete]} because
 *       {@code DELETE ?cas} answers true for a key that no longer exists.</li>
 *   <li>Reads are one recursive GET of the cluster prefix with {@code ?consistent} (configurable). The leader key is
 *       watched with a blocking query on a daemon thread.</li>
 *   <li>Every call is bounded by the member's {@code retryTimeout}; transport failures, 403 and 5xx answers become
 *       {@link DcsUnavailableException}; a lost race is {@code false}.</li>
 * </ul>
 *
 * <p>Thread-safe. Verified against {@code ConsulEmulator} (an emulator of Consul's HTTP API, not Consul) and, when
 * one is available, a real agent: see {@code docs/consul-settings.md}.
 */
public final class ConsulDcs extends KeyValueDcs {

    private static final Logger LOG = LoggerFactory.getLogger(ConsulDcs.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** A key that keeps changing between our read and our write is given up after this many rounds. */
    private static final int MAX_ROUNDS = 3;
    /** Newer Consul versions reject KV keys with other characters. */
    private static final Pattern CONSUL_KEY_CHARS = Pattern.compile("[A-Za-z0-9,._/-]*");

    private final ConsulSettings settings;
    private final DcsContext context;
    private final KeyLayout layout;
    private final String log;
    private final String prefix;
    private final String leaderKey;
    private final String memberKey;
    private final String name;
    private final byte[] nameBytes;
    private final String sessionName;
    private final Duration sessionTtl;
    private final long retryTimeoutNanos;
    private final ConsulHttp http;

    private final Object sessionLock = new Object();
    private final AtomicReference<String> session = new AtomicReference<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final List<Runnable> leaderCallbacks = new CopyOnWriteArrayList<>();
    private final Object threadsLock = new Object();
    private volatile long lastActivity = System.nanoTime();
    private volatile Duration grantedTtl;
    private Thread renewer;
    private Thread watcher;

    // ------------------------------------------------------------------------------------------------ factories

    /** A factory for members talking to the Consul agent at {@code agentUrl} with default settings. */
    public static DcsFactory connect(String agentUrl) {
        return connect(ConsulSettings.builder(agentUrl).build());
    }

    /** A factory for members connecting with {@code settings}. */
    public static DcsFactory connect(ConsulSettings settings) {
        Objects.requireNonNull(settings, "settings");
        return context -> open(settings, context);
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
        this.sessionTtl = settings.sessionTtlFor(context);
        this.grantedTtl = sessionTtl;
        this.layout = context.layout();
        this.log = layout.scope() + "/" + name + " - ";
        String p = layout.prefix();
        this.prefix = p.startsWith("/") ? p.substring(1) : p;
        this.leaderKey = prefix + KeyLayout.LEADER;
        this.memberKey = prefix + KeyLayout.MEMBERS + name;
        this.nameBytes = name.getBytes(StandardCharsets.UTF_8);
        this.sessionName = layout.scope() + "-" + name;
        this.retryTimeoutNanos = context.retryTimeout().toNanos();
        this.http = new ConsulHttp(settings, settings.connectTimeoutFor(context),
                "pgha-consul-http-" + layout.scope() + "-" + name, log);
        if (!CONSUL_KEY_CHARS.matcher(memberKey).matches()) {
            LOG.warn("{}the key {} has characters that Consul 1.22+ rejects in KV keys (allowed: letters, digits and "
                    + ",-_./); writes will fail there with 400", log, memberKey);
        }
        LOG.info("{}using Consul {} (session TTL {} = ttl/2, lock delay {} ms, {} reads{}{})", log,
                settings.agents(), ConsulSettings.seconds(sessionTtl), settings.lockDelay().toMillis(),
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
        return sessionTtl;
    }

    /** The current Consul session id, or null before the first write and after the session was lost. */
    public String sessionId() {
        return session.get();
    }

    /** The key prefix of this cluster in Consul, e.g. {@code service/orders/}. */
    public String keyPrefix() {
        return prefix;
    }

    // ------------------------------------------------------------------------------------------------ reads

    @Override
    public ClusterView read() throws DcsUnavailableException {
        long deadline = begin("read the cluster");
        String what = "read the cluster " + prefix;
        ConsulHttp.Response r = http.send(what, "GET", "kv/" + prefix, readQuery("recurse", null), null, deadline);
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
        return ClusterViewDecoder.decode(layout, nodes);
    }

    // ------------------------------------------------------------------------------------------------ leader key

    @Override
    public boolean acquireLeader() throws DcsUnavailableException {
        long deadline = begin("acquire the leader key");
        String what = "acquire the leader key " + leaderKey;
        // Consul counts a session's TTL from its last renewal, not from a lock: renew first, so the lease of a key we
        // create now runs from after the caller's sentAt.
        String s = renewedSession(what, deadline);
        for (int round = 0; round < 2; round++) {
            TxnOutcome t = txn(what, deadline, op("check-not-exists", leaderKey), lockOp(leaderKey, nameBytes, s));
            if (t.ok()) {
                LOG.info("{}acquired the leader key {} (session {})", log, leaderKey, s);
                return true;
            }
            if (t.sessionGone()) {
                session.compareAndSet(s, null);
                s = createSession(what, deadline);
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
        KvEntry e = get(what, leaderKey, deadline);
        return e != null && e.holds(name) && s.equals(e.session());
    }

    @Override
    public boolean renewLeader() throws DcsUnavailableException {
        long deadline = begin("renew the leader key");
        String what = "renew the leader key " + leaderKey;
        String s = renewedSession(what, deadline);
        KvEntry e = get(what, leaderKey, deadline);
        if (e == null || !e.holds(name)) {
            return false;
        }
        if (s.equals(e.session())) {
            // The session renewal above is what keeps the key: no write, so watchers are not woken.
            return true;
        }
        // Our name under an earlier session of ours (a restarted process) or under none: re-bind it to this session,
        // or it would vanish when that session ends. A key held by a session that is not ours is lost.
        if (e.session() != null && !isOurSession(what, e.session(), deadline)) {
            LOG.warn("{}the leader key {} holds our name but belongs to session {}, which is not ours: lost", log,
                    leaderKey, e.session());
            return false;
        }
        TxnOutcome t = txn(what, deadline, indexOp("check-index", leaderKey, e.modifyIndex()),
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
        long deadline = begin("release the leader key");
        String what = "release the leader key " + leaderKey;
        KvEntry e = get(what, leaderKey, deadline);
        if (e == null || !e.holds(name)) {
            return false;
        }
        TxnOutcome t = txn(what, deadline, indexOp("check-index", leaderKey, e.modifyIndex()),
                op("delete", leaderKey));
        if (t.ok()) {
            LOG.info("{}released the leader key {}", log, leaderKey);
        }
        return t.ok();
    }

    @Override
    public Duration leaseGuarantee() {
        Duration g = grantedTtl;
        return g.compareTo(sessionTtl) < 0 ? g : sessionTtl;
    }

    @Override
    public void watchLeader(Runnable onChange) {
        Objects.requireNonNull(onChange, "onChange");
        leaderCallbacks.add(onChange);
        synchronized (threadsLock) {
            if (watcher != null || closed.get()) {
                return;
            }
            // The first state is read here, before returning, so a change the caller makes next is seen as a change.
            LeaderWatch w = new LeaderWatch();
            w.baseline();
            watcher = daemon("pgha-consul-watch-" + layout.scope() + "-" + name, w::run);
        }
    }

    // ------------------------------------------------------------------------------------------------ CAS keys

    // ------------------------------------------------------------------------------------------------ best effort

    @Override
    public void touchMember(Member data) throws DcsUnavailableException {
        Objects.requireNonNull(data, "data");
        if (!data.name().equals(name)) {
            throw new IllegalArgumentException("touchMember: member '" + data.name()
                    + "' is not the member this session acts for ('" + name + "')");
        }
        long deadline = begin("publish the member key");
        String what = "publish the member key " + memberKey;
        byte[] bytes = PatroniJson.encodeMember(data);
        String s = currentOrNewSession(what, deadline);
        boolean refusedOnAbsentKey = false;
        for (int round = 0; round < MAX_ROUNDS; round++) {
            ConsulHttp.Response r = http.send(what, "PUT", "kv/" + memberKey, List.of("acquire", s), bytes, deadline);
            if (r.status() == 500 && mentionsInvalidSession(r.text())) {
                session.compareAndSet(s, null);
                s = createSession(what, deadline);
                continue;
            }
            if (r.status() != 200) {
                throw ConsulHttp.unexpected(what, r);
            }
            if (parseBool(what, r)) {
                return;
            }
            // Held by another session (our previous process) or refused during a lock delay.
            KvEntry e = get(what, memberKey, deadline);
            if (e == null) {
                refusedOnAbsentKey = true;
                continue;
            }
            TxnOutcome t = txn(what, deadline, indexOp("check-index", memberKey, e.modifyIndex()),
                    op("delete", memberKey), lockOp(memberKey, bytes, s));
            if (t.ok()) {
                LOG.info("{}re-bound the member key {} to session {} (it was held by {})", log, memberKey, s,
                        e.session() == null ? "no session" : "session " + e.session());
                return;
            }
            if (t.sessionGone()) {
                session.compareAndSet(s, null);
                s = createSession(what, deadline);
            } else if (t.lockDelay()) {
                refusedOnAbsentKey = true;
            }
        }
        throw new DcsUnavailableException(what + ": " + (refusedOnAbsentKey
                ? "Consul refused the lock, most likely during the lock delay after a previous session of this "
                        + "member ended; retrying next cycle"
                : "the key changed under us " + MAX_ROUNDS + " times in a row; giving up for this cycle"));
    }

    @Override
    public void deleteMember() throws DcsUnavailableException {
        long deadline = begin("delete the member key");
        String what = "delete the member key " + memberKey;
        ConsulHttp.Response r = http.send(what, "DELETE", "kv/" + memberKey, List.of(), null, deadline);
        if (r.status() != 200) {
            throw ConsulHttp.unexpected(what, r);
        }
    }

    // ------------------------------------------------------------------------------------------------ close

    /**
     * Destroys the session, so Consul deletes this member's leader and member keys at once, and stops the threads.
     * If Consul cannot be reached within {@code retryTimeout}, the keys expire with the session (within the ttl).
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        synchronized (threadsLock) {
            if (renewer != null) {
                renewer.interrupt();
            }
            if (watcher != null) {
                watcher.interrupt();
            }
        }
        String s;
        synchronized (sessionLock) {
            s = session.getAndSet(null);
        }
        if (s == null) {
            LOG.info("{}closed (no Consul session was open)", log);
        } else {
            destroy(s);
        }
        http.close();
    }

    private void destroy(String s) {
        String what = "destroy session " + s;
        try {
            ConsulHttp.Response r = http.send(what, "PUT", "session/destroy/" + s, List.of(), null,
                    System.nanoTime() + retryTimeoutNanos);
            if (r.status() == 200) {
                LOG.info("{}destroyed Consul session {}: Consul deleted this member's leader and member keys", log, s);
            } else {
                LOG.warn("{}{}", log, ConsulHttp.unexpected(what, r).getMessage());
            }
        } catch (DcsUnavailableException e) {
            LOG.warn("{}could not destroy Consul session {} ({}); its keys expire with it within {}", log, s,
                    e.getMessage(), ConsulSettings.seconds(sessionTtl.multipliedBy(2)));
        }
    }

    @Override
    public String toString() {
        return "ConsulDcs[" + layout.scope() + "/" + name + " @ " + settings.agents() + "]";
    }

    // ------------------------------------------------------------------------------------------------ sessions

    private String currentOrNewSession(String what, long deadline) throws DcsUnavailableException {
        String s = session.get();
        return s != null ? s : createSession(what, deadline);
    }

    /** The current session, renewed now; a new one when there is none or Consul lost it. */
    private String renewedSession(String what, long deadline) throws DcsUnavailableException {
        String s = session.get();
        if (s == null) {
            return createSession(what, deadline);
        }
        if (renew(what, s, deadline)) {
            return s;
        }
        if (session.compareAndSet(s, null)) {
            LOG.warn("{}Consul session {} is gone (its renewal answered 404), and with it this member's leader and "
                    + "member keys; creating a new session", log, s);
        }
        return createSession(what, deadline);
    }

    /** True when renewed, false when Consul no longer knows the session. */
    private boolean renew(String what, String s, long deadline) throws DcsUnavailableException {
        ConsulHttp.Response r = http.send(what + " (renew session " + s + ")", "PUT", "session/renew/" + s, List.of(),
                null, deadline);
        if (r.status() == 404) {
            return false;
        }
        if (r.status() != 200) {
            throw ConsulHttp.unexpected(what + " (renew session " + s + ")", r);
        }
        noteGrantedTtl(r);
        return true;
    }

    private String createSession(String what, long deadline) throws DcsUnavailableException {
        synchronized (sessionLock) {
            String existing = session.get();
            if (existing != null) {
                return existing;
            }
            if (closed.get()) {
                throw new DcsUnavailableException(what + ": this Consul client is closed");
            }
            ObjectNode body = JSON.createObjectNode();
            body.put("Name", sessionName);
            body.put("TTL", GoDuration.format(sessionTtl));
            body.put("Behavior", "delete");
            body.put("LockDelay", GoDuration.format(settings.lockDelay()));
            // An explicit empty list: without it Consul ties the session to the agent's serfHealth check, and a
            // gossip flap or an agent restart would end a healthy leader's lease (docs/decisions 0403).
            body.putArray("Checks");
            ConsulHttp.Response r = http.send(what + " (create a session)", "PUT", "session/create", List.of(),
                    bytes(body), deadline);
            if (r.status() == 500 && r.text().contains("Invalid Session TTL")) {
                throw new DcsUnavailableException(what + ": Consul refused session TTL "
                        + GoDuration.format(sessionTtl) + " (ttl/2): \"" + r.text().trim() + "\". The servers' "
                        + "session_ttl_min is higher than the sessionTtlMin setting ("
                        + ConsulSettings.seconds(settings.sessionTtlMin()) + "); raise ttl to at least twice it");
            }
            if (r.status() != 200) {
                throw ConsulHttp.unexpected(what + " (create a session)", r);
            }
            String id;
            try {
                id = JSON.readTree(r.body()).path("ID").asText("");
            } catch (IOException e) {
                throw new DcsUnavailableException(what + ": Consul's answer to session/create is not JSON", e);
            }
            if (id.isEmpty()) {
                throw ConsulHttp.unexpected(what + " (create a session: no ID in the answer)", r);
            }
            session.set(id);
            LOG.info("{}created Consul session {} (TTL {}: Consul ends it between {} and {} after the last renewal; "
                    + "lock delay {} ms; no health checks)", log, id, GoDuration.format(sessionTtl),
                    ConsulSettings.seconds(sessionTtl), ConsulSettings.seconds(sessionTtl.multipliedBy(2)),
                    settings.lockDelay().toMillis());
            if (closed.get()) {
                session.set(null);
                destroy(id);
                throw new DcsUnavailableException(what + ": this Consul client was closed meanwhile");
            }
            startRenewer();
            return id;
        }
    }

    /** Consul may answer a renewal with a longer TTL (a loaded server asking for fewer renewals); never shorter. */
    private void noteGrantedTtl(ConsulHttp.Response r) {
        try {
            JsonNode n = JSON.readTree(r.body());
            JsonNode first = n.isArray() && n.size() > 0 ? n.get(0) : n;
            String ttl = first.path("TTL").asText("");
            if (!ttl.isEmpty()) {
                Duration d = GoDuration.parse(ttl);
                if (!d.equals(grantedTtl)) {
                    LOG.info("{}Consul granted session TTL {} (requested {})", log, ttl,
                            GoDuration.format(sessionTtl));
                    grantedTtl = d;
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.debug("{}cannot read the TTL in Consul's renewal answer: {}", log, e.toString());
        }
    }

    private boolean isOurSession(String what, String id, long deadline) throws DcsUnavailableException {
        ConsulHttp.Response r = http.send(what + " (look up session " + id + ")", "GET", "session/info/" + id,
                readQuery(), null, deadline);
        if (r.status() != 200) {
            throw ConsulHttp.unexpected(what + " (look up session " + id + ")", r);
        }
        try {
            JsonNode n = JSON.readTree(r.body());
            return n.isArray() && n.size() > 0 && sessionName.equals(n.get(0).path("Name").asText(null));
        } catch (IOException e) {
            throw new DcsUnavailableException(what + ": Consul's answer to session/info is not JSON", e);
        }
    }

    private void startRenewer() {
        synchronized (threadsLock) {
            if (renewer == null && !closed.get()) {
                renewer = daemon("pgha-consul-renew-" + layout.scope() + "-" + name, this::renewLoop);
            }
        }
    }

    /**
     * Keeps the session alive between the HA loop's calls, but only while the loop shows signs of life: a member
     * whose loop is stuck must not keep its keys (and so its leadership) forever.
     */
    private void renewLoop() {
        long period = Math.max(Duration.ofMillis(100).toNanos(), sessionTtl.toNanos() / 3);
        boolean paused = false;
        int failures = 0;
        while (!closed.get()) {
            try {
                Thread.sleep(period / 1_000_000, (int) (period % 1_000_000));
            } catch (InterruptedException e) {
                return;
            }
            String s = session.get();
            if (s == null || closed.get()) {
                continue;
            }
            long idle = System.nanoTime() - lastActivity;
            if (idle > context.ttl().toNanos()) {
                if (!paused) {
                    LOG.warn("{}no DCS call for {} (longer than ttl): session renewals pause, so Consul ends session "
                            + "{} and this member's keys unless a call comes first", log,
                            ConsulSettings.seconds(Duration.ofNanos(idle).withNanos(0)), s);
                    paused = true;
                }
                continue;
            }
            paused = false;
            try {
                if (!renew("renew the session in the background", s, System.nanoTime() + retryTimeoutNanos)) {
                    if (session.compareAndSet(s, null)) {
                        LOG.warn("{}Consul session {} was invalidated (renewal answered 404): this member's leader "
                                + "and member keys are gone; the next write creates a new session", log, s);
                    }
                }
                if (failures > 0) {
                    LOG.info("{}session renewals succeed again after {} failures", log, failures);
                }
                failures = 0;
            } catch (DcsUnavailableException e) {
                if (failures++ == 0) {
                    LOG.warn("{}background session renewal failed: {}", log, e.getMessage());
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ leader watch

    /** What the watch compares between answers: any difference is a change of the leader key. */
    private record LeaderState(boolean present, long modifyIndex, String session, String value) {
        static final LeaderState ABSENT = new LeaderState(false, 0, null, null);
    }

    /** A blocking query on the leader key; the callbacks run on its thread. */
    private final class LeaderWatch {
        private long index;
        private LeaderState last;
        private double tokens = 2;
        private long refilledAt = System.nanoTime();

        /** The first state, read synchronously; a failure leaves it unknown (the next answer then counts as news). */
        void baseline() {
            try {
                query(0, System.nanoTime() + retryTimeoutNanos, false);
            } catch (DcsUnavailableException e) {
                LOG.debug("{}first read of the leader key for the watch failed: {}", log, e.getMessage());
            }
        }

        void run() {
            long backoff = Duration.ofMillis(100).toNanos();
            while (!closed.get()) {
                try {
                    rateLimit();
                    long wait = settings.watchWait().toNanos();
                    // Consul answers after wait plus up to wait/16 of its own jitter; then the answer has to reach us.
                    long deadline = System.nanoTime() + wait + wait / 16 + retryTimeoutNanos;
                    query(index, deadline, true);
                    backoff = Duration.ofMillis(100).toNanos();
                } catch (DcsUnavailableException e) {
                    if (closed.get()) {
                        return;
                    }
                    LOG.debug("{}leader watch: {}", log, e.getMessage());
                    // Whatever happened while we could not ask is found by a non-blocking query next.
                    index = 0;
                    try {
                        Thread.sleep(backoff / 1_000_000);
                    } catch (InterruptedException ie) {
                        return;
                    }
                    backoff = Math.min(backoff * 2, Duration.ofSeconds(2).toNanos());
                } catch (InterruptedException e) {
                    return;
                }
            }
        }

        private void query(long minIndex, long deadline, boolean report) throws DcsUnavailableException {
            String what = "watch the leader key " + leaderKey;
            // Default consistency: the watch only wakes the HA loop, which then reads with the configured mode.
            List<String> q = minIndex > 0
                    ? List.of("index", Long.toString(minIndex), "wait", GoDuration.format(settings.watchWait()))
                    : List.of();
            ConsulHttp.Response r = http.send(what, "GET", "kv/" + leaderKey, q, null, deadline);
            LeaderState state;
            if (r.status() == 404) {
                state = LeaderState.ABSENT;
            } else if (r.status() == 200) {
                List<KvEntry> es = parseEntries(what, r);
                KvEntry e = es.isEmpty() ? null : es.get(0);
                state = e == null ? LeaderState.ABSENT
                        : new LeaderState(true, e.modifyIndex(), e.session(),
                                new String(e.value(), StandardCharsets.UTF_8));
            } else {
                throw ConsulHttp.unexpected(what, r);
            }
            long got = r.index();
            if (got < index) {
                // Indexes can go backwards (snapshot restore, the newest key of a list deleted): start over.
                index = 0;
            } else {
                // Never block on an index below 1, or the next query returns at once and the loop spins.
                index = Math.max(1, got);
            }
            LeaderState before = last;
            last = state;
            // An unknown earlier state (the first read failed) counts as a change: a spurious wake-up is harmless.
            if (report && (before == null || !before.equals(state))) {
                notifyLeaderChanged();
            }
        }

        /** A token bucket (burst 2, one per second): quick answers in a row degrade into polling, never a busy loop. */
        private void rateLimit() throws InterruptedException {
            long now = System.nanoTime();
            tokens = Math.min(2, tokens + (now - refilledAt) / 1e9);
            refilledAt = now;
            if (tokens < 1) {
                long waitNanos = (long) ((1 - tokens) * 1e9);
                Thread.sleep(waitNanos / 1_000_000, (int) (waitNanos % 1_000_000));
                tokens = 1;
                refilledAt = System.nanoTime();
            }
            tokens -= 1;
        }
    }

    private void notifyLeaderChanged() {
        for (Runnable r : leaderCallbacks) {
            try {
                r.run();
            } catch (RuntimeException e) {
                LOG.warn("{}leader watch callback failed", log, e);
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ KV helpers

    /** One KV entry as Consul returns it; {@code session} is null when no session holds the key. */
    private record KvEntry(String key, byte[] value, String session, long lockIndex, long createIndex,
            long modifyIndex) {
        boolean holds(String member) {
            return new String(value, StandardCharsets.UTF_8).trim().equals(member);
        }
    }

    private KvEntry get(String what, String key, long deadline) throws DcsUnavailableException {
        ConsulHttp.Response r = http.send(what, "GET", "kv/" + key, readQuery(), null, deadline);
        if (r.status() == 404) {
            return null;
        }
        if (r.status() != 200) {
            throw ConsulHttp.unexpected(what, r);
        }
        List<KvEntry> es = parseEntries(what, r);
        return es.isEmpty() ? null : es.get(0);
    }


    @Override
    protected boolean compareAndSet(String what, String rel, byte[] data, long expected)
            throws DcsUnavailableException {
        long deadline = begin(what);
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
        long deadline = begin(what);
        String key = prefix + rel;
        if (expected == DcsVersion.ABSENT) {
            // "Delete it if it is absent": true exactly when there is nothing to delete.
            return get(what + " " + key, key, deadline) == null;
        }
        if (expected == ANY_VERSION) {
            ConsulHttp.Response r = http.send(what + " " + key, "DELETE", "kv/" + key, List.of(), null, deadline);
            if (r.status() != 200) {
                throw ConsulHttp.unexpected(what + " " + key, r);
            }
            return true;
        }
        // Not DELETE ?cas=: Consul answers true to it when the key is already gone.
        return txn(what + " " + key, deadline, indexOp("check-index", key, modifyIndex(what, expected)),
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

    private List<String> readQuery(String... params) {
        List<String> q = new ArrayList<>(Arrays.asList(params));
        String c = settings.consistency().queryParameter();
        if (c != null) {
            q.add(c);
            q.add(null);
        }
        return q;
    }

    private static List<KvEntry> parseEntries(String what, ConsulHttp.Response r) throws DcsUnavailableException {
        JsonNode n;
        try {
            n = JSON.readTree(r.body());
        } catch (IOException e) {
            throw new DcsUnavailableException(what + ": Consul's answer is not JSON (" + e.getMessage() + ")", e);
        }
        if (n == null || !n.isArray()) {
            throw ConsulHttp.unexpected(what + " (expected a JSON list of entries)", r);
        }
        List<KvEntry> out = new ArrayList<>(n.size());
        for (JsonNode e : n) {
            String v = e.path("Value").isTextual() ? e.path("Value").asText() : null;
            byte[] value;
            try {
                value = v == null ? new byte[0] : Base64.getDecoder().decode(v);
            } catch (IllegalArgumentException ex) {
                throw new DcsUnavailableException(what + ": the value of " + e.path("Key").asText()
                        + " is not base64", ex);
            }
            String s = e.path("Session").asText("");
            out.add(new KvEntry(e.path("Key").asText(""), value, s.isEmpty() ? null : s, e.path("LockIndex").asLong(),
                    e.path("CreateIndex").asLong(), e.path("ModifyIndex").asLong()));
        }
        return out;
    }

    private static boolean parseBool(String what, ConsulHttp.Response r) throws DcsUnavailableException {
        String t = r.text().trim();
        if (t.equals("true")) {
            return true;
        }
        if (t.equals("false")) {
            return false;
        }
        throw ConsulHttp.unexpected(what + " (expected true or false)", r);
    }

    private static boolean mentionsInvalidSession(String text) {
        return text.toLowerCase(Locale.ROOT).contains("invalid session");
    }

    // ------------------------------------------------------------------------------------------------ transactions

    /** The outcome of a KV transaction; a rolled-back one lists Consul's reasons. */
    private record TxnOutcome(boolean ok, List<String> errors) {
        boolean mentions(String s) {
            return errors.stream().anyMatch(e -> e.toLowerCase(Locale.ROOT).contains(s));
        }

        boolean sessionGone() {
            return mentions("invalid session");
        }

        boolean lockDelay() {
            return mentions("lock delay");
        }
    }

    private TxnOutcome txn(String what, long deadline, ObjectNode... ops) throws DcsUnavailableException {
        ArrayNode body = JSON.createArrayNode();
        for (ObjectNode o : ops) {
            body.addObject().set("KV", o);
        }
        ConsulHttp.Response r = http.send(what, "PUT", "txn", List.of(), bytes(body), deadline);
        if (r.status() == 200) {
            return new TxnOutcome(true, List.of());
        }
        if (r.status() != 409) {
            throw ConsulHttp.unexpected(what, r);
        }
        List<String> errors = new ArrayList<>();
        try {
            for (JsonNode e : JSON.readTree(r.body()).path("Errors")) {
                errors.add(e.path("What").asText(""));
            }
        } catch (IOException e) {
            throw new DcsUnavailableException(what + ": Consul's 409 answer to a transaction is not JSON", e);
        }
        TxnOutcome t = new TxnOutcome(false, List.copyOf(errors));
        // ACL refusals inside a transaction come back as 409 with per-operation errors, not as 403.
        if (t.mentions("permission denied") || t.mentions("acl not found")) {
            throw new DcsUnavailableException(what + ": Consul refused the transaction: " + errors + "; check the "
                    + "ACL token (it needs key:write on " + prefix + " and session:write)");
        }
        return t;
    }

    private static ObjectNode op(String verb, String key) {
        ObjectNode o = JSON.createObjectNode();
        o.put("Verb", verb);
        o.put("Key", key);
        return o;
    }

    private static ObjectNode indexOp(String verb, String key, long index) {
        ObjectNode o = op(verb, key);
        o.put("Index", index);
        return o;
    }

    private static ObjectNode lockOp(String key, byte[] value, String session) {
        ObjectNode o = op("lock", key);
        o.put("Value", Base64.getEncoder().encodeToString(value));
        o.put("Session", session);
        return o;
    }

    // ------------------------------------------------------------------------------------------------ plumbing

    /** Every call: refuse after close, note a sign of life for the renewer, and fix the call's deadline. */
    private long begin(String what) throws DcsUnavailableException {
        if (closed.get()) {
            throw new DcsUnavailableException(what + ": this Consul client is closed");
        }
        long now = System.nanoTime();
        lastActivity = now;
        return now + retryTimeoutNanos;
    }

    private static byte[] bytes(JsonNode n) {
        try {
            return JSON.writeValueAsBytes(n);
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode JSON", e);
        }
    }

    private static Thread daemon(String name, Runnable body) {
        Thread t = new Thread(body, name);
        t.setDaemon(true);
        t.start();
        return t;
    }
}
