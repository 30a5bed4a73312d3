package io.pgha.dcs.zookeeper;

import static io.pgha.dcs.zookeeper.ZooKeeperConnection.code;
import static io.pgha.dcs.zookeeper.ZooKeeperConnection.firstError;

import io.pgha.core.cluster.DcsVersion;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsUnavailableException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException.Code;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Stat;

/**
 * The compare-and-set keys of one cluster on ZooKeeper, and creating znodes with their parents (docs/decisions 0208).
 *
 * <p>Versions are zxids ({@code mzxid}). A write "if the version is still V" reads the key and its guard in one
 * multi-read; if the key's mzxid is V it writes on the znode's own version, in one multi with the guard: checked for
 * a setData, bumped for a create or a delete. Any create or delete of the key by pgha since the read changed the
 * guard, so the write cannot land on a key created anew whose own version happens to match.
 */
final class GuardedKeys {

    /** pgha's guard znodes, one per compare-and-set key (docs/decisions 0208); Patroni ignores unknown children. */
    private static final String GUARDS_DIR = "pgha-guards";
    /**
     * The compare-and-set keys pgha also deletes; each gets a guard bumped whenever it is created or deleted. (status
     * and history are compare-and-set but never deleted: the mzxid check is all they need.)
     */
    private static final Set<String> GUARDED = Set.of(KeyLayout.INITIALIZE, KeyLayout.CONFIG, KeyLayout.SYNC,
            KeyLayout.FAILOVER);
    private static final byte[] EMPTY = new byte[0];
    /** A key that keeps changing between our read and our write is given up after this many rounds. */
    private static final int MAX_ROUNDS = 3;

    private final ZooKeeperConnection connection;
    private final ZooKeeperAcls acls;
    private final KeyLayout layout;
    private final String scopePath;
    /** Tests only: runs between a compare-and-set's read and its write, to put a race exactly there. */
    private volatile Runnable beforeConditionalWrite;

    GuardedKeys(ZooKeeperConnection connection, ZooKeeperAcls acls, KeyLayout layout, String scopePath) {
        this.connection = connection;
        this.acls = acls;
        this.layout = layout;
        this.scopePath = scopePath;
    }

    /** For tests in this package: {@code hook} runs between every compare-and-set's read and its write. */
    void beforeConditionalWrite(Runnable hook) {
        this.beforeConditionalWrite = hook;
    }

    /** {@link io.pgha.core.spi.KeyValueDcs}'s compareAndSet, within {@code deadline}. */
    boolean compareAndSet(String what, String key, byte[] data, long expected, long deadline)
            throws DcsUnavailableException {
        String path = layout.key(key);
        if (expected == DcsVersion.ABSENT) {
            return createValue(what, key, data, deadline);
        }
        if (expected == Dcs.ANY_VERSION) {
            upsert(what, key, data, deadline);
            return true;
        }
        long zxid = zxid(what, expected);
        Snapshot s = snapshot(what, key, deadline);
        if (s.value == null || s.value.getMzxid() != zxid) {
            return false;
        }
        List<Op> ops = s.guardOps(false);
        ops.add(Op.setData(path, data, s.value.getVersion()));
        return conditionalWrite(what, key, ops, deadline);
    }

    /** {@link io.pgha.core.spi.KeyValueDcs}'s compareAndDelete, within {@code deadline}. */
    boolean compareAndDelete(String what, String key, long expected, long deadline) throws DcsUnavailableException {
        String path = layout.key(key);
        if (expected == DcsVersion.ABSENT) {
            // "Delete it if it is absent": true exactly when there is nothing to delete.
            Code c = code(connection.op(what, path, deadline,
                    (cf, cb) -> cf.checkExists().inBackground(cb).forPath(path)));
            if (c == Code.OK || c == Code.NONODE) {
                return c == Code.NONODE;
            }
            throw connection.failure(what, path, c);
        }
        long zxid = expected == Dcs.ANY_VERSION ? 0 : zxid(what, expected);
        for (int round = 0; round < MAX_ROUNDS; round++) {
            Snapshot s = snapshot(what, key, deadline);
            if (s.value == null) {
                return expected == Dcs.ANY_VERSION;
            }
            if (expected != Dcs.ANY_VERSION && s.value.getMzxid() != zxid) {
                return false;
            }
            List<Op> ops = s.guardOps(true);
            ops.add(Op.delete(path, s.value.getVersion()));
            if (conditionalWrite(what, key, ops, deadline)) {
                return true;
            }
            if (expected != Dcs.ANY_VERSION) {
                return false;
            }
            // Unconditional: it changed between the read and the delete; look again.
        }
        throw new DcsUnavailableException(what + " " + path + ": the key changed under us " + MAX_ROUNDS
                + " times in a row; giving up for this cycle");
    }

    /** Last writer wins: replace, or create when absent. */
    private void upsert(String what, String key, byte[] data, long deadline) throws DcsUnavailableException {
        String path = layout.key(key);
        for (int round = 0; round < MAX_ROUNDS; round++) {
            Code c = code(connection.op(what, path, deadline,
                    (cf, cb) -> cf.setData().inBackground(cb).forPath(path, data)));
            if (c == Code.OK) {
                return;
            }
            if (c != Code.NONODE) {
                throw connection.failure(what, path, c);
            }
            if (createValue(what, key, data, deadline)) {
                return;
            }
        }
        throw new DcsUnavailableException(what + " " + path + ": the key changed under us " + MAX_ROUNDS
                + " times in a row; giving up for this cycle");
    }

    /** Creates a persistent key if it is absent (bumping its guard); false when it exists. */
    private boolean createValue(String what, String key, byte[] data, long deadline) throws DcsUnavailableException {
        String path = layout.key(key);
        if (!GUARDED.contains(key)) {
            Code c = create(what, path, data, CreateMode.PERSISTENT, deadline);
            if (c == Code.OK || c == Code.NODEEXISTS) {
                return c == Code.OK;
            }
            throw connection.failure(what, path, c);
        }
        for (int round = 0; round < MAX_ROUNDS; round++) {
            Snapshot s = snapshot(what, key, deadline);
            if (s.value != null) {
                return false;
            }
            List<Op> ops = s.guardOps(true);
            ops.add(Op.create(path, data, acls.forPath(path), CreateMode.PERSISTENT));
            if (conditionalWrite(what, key, ops, deadline)) {
                return true;
            }
            // Lost to a concurrent create, or the guard moved: look again.
        }
        throw new DcsUnavailableException(what + " " + path + ": the key changed under us " + MAX_ROUNDS
                + " times in a row; giving up for this cycle");
    }

    /**
     * Runs the multi of a compare-and-set; false when a check failed (the key or its guard changed since the
     * snapshot). Creates missing parents (the scope, the guards' directory) and tries once more.
     */
    private boolean conditionalWrite(String what, String key, List<Op> ops, long deadline)
            throws DcsUnavailableException {
        Runnable hook = beforeConditionalWrite;
        if (hook != null) {
            hook.run();
        }
        for (int attempt = 0; attempt < 2; attempt++) {
            List<OpResult> results = connection.multi(what, ops, deadline);
            int failed = firstError(results);
            if (failed < 0) {
                return true;
            }
            Op op = ops.get(failed);
            Code c = Code.get(((OpResult.ErrorResult) results.get(failed)).getErr());
            boolean creates = op.getType() == ZooDefs.OpCode.create || op.getType() == ZooDefs.OpCode.create2;
            if (c == Code.NONODE && creates && attempt == 0) {
                createParents(what, op.getPath(), deadline);
                continue;
            }
            if (c == Code.BADVERSION || c == Code.NONODE || c == Code.NODEEXISTS) {
                return false;
            }
            throw connection.failure(what, layout.key(key), c);
        }
        return false;
    }

    /** A key's stat and its guard's, read at one point of the server's history; null for what does not exist. */
    private Snapshot snapshot(String what, String key, long deadline) throws DcsUnavailableException {
        String path = layout.key(key);
        boolean guarded = GUARDED.contains(key);
        String guard = guarded ? guardPath(key) : null;
        List<Op> reads = guarded ? List.of(Op.getData(path), Op.getData(guard)) : List.of(Op.getData(path));
        List<OpResult> r = connection.multi(what, reads, deadline);
        return new Snapshot(guard, stat(what, path, r.get(0)), guarded ? stat(what, guard, r.get(1)) : null);
    }

    private Stat stat(String what, String path, OpResult r) throws DcsUnavailableException {
        if (r instanceof OpResult.GetDataResult d) {
            return d.getStat();
        }
        connection.requireNoNode(what, path, r);
        return null;
    }

    /** A key and its guard as read; {@code guard} is null for a key without one. */
    private final class Snapshot {
        final String guard;
        final Stat value;
        final Stat guardStat;

        Snapshot(String guard, Stat value, Stat guardStat) {
            this.guard = guard;
            this.value = value;
            this.guardStat = guardStat;
        }

        /** The guard's part of a write: checked as read, or bumped ({@code bump}: a create or delete of the key). */
        List<Op> guardOps(boolean bump) {
            List<Op> ops = new ArrayList<>(3);
            if (guard == null) {
                return ops;
            }
            if (guardStat == null) {
                // Creating it fails if anyone created it since: as good as a check, and a bump from "absent".
                ops.add(Op.create(guard, EMPTY, acls.forPath(guard), CreateMode.PERSISTENT));
            } else if (bump) {
                ops.add(Op.setData(guard, EMPTY, guardStat.getVersion()));
            } else {
                ops.add(Op.check(guard, guardStat.getVersion()));
            }
            return ops;
        }
    }

    private String guardPath(String key) {
        return scopePath + "/" + GUARDS_DIR + "/" + key;
    }

    /** A caller's version must be a zxid read from ZooKeeper; anything else would make the check meaningless. */
    private static long zxid(String what, long expected) {
        if (expected < 1) {
            throw new IllegalArgumentException(what + ": expectedVersion must be a version read from ZooKeeper (a zxid, "
                    + "1 or more), DcsVersion.ABSENT or Dcs.ANY_VERSION (got " + expected + ")");
        }
        return expected;
    }

    /** Creates {@code path}, and its missing parents with the right ACLs if needed; returns the create's result. */
    Code create(String what, String path, byte[] data, CreateMode mode, long deadline)
            throws DcsUnavailableException {
        List<ACL> acl = acls.forPath(path);
        if (mode.isEphemeral()) {
            // From now on this session holds keys: the idle rule applies to it.
            connection.holdsLease();
        }
        Code c = code(connection.op(what, path, deadline,
                (cf, cb) -> cf.create().withMode(mode).withACL(acl).inBackground(cb).forPath(path, data)));
        if (c != Code.NONODE) {
            return c;
        }
        createParents(what, path, deadline);
        return code(connection.op(what, path, deadline,
                (cf, cb) -> cf.create().withMode(mode).withACL(acl).inBackground(cb).forPath(path, data)));
    }

    private void createParents(String what, String path, long deadline) throws DcsUnavailableException {
        int i = 0;
        while ((i = path.indexOf('/', i + 1)) > 0) {
            String parent = path.substring(0, i);
            List<ACL> acl = acls.forPath(parent);
            Code c = code(connection.op(what, parent, deadline, (cf, cb) -> cf.create().withMode(CreateMode.PERSISTENT)
                    .withACL(acl).inBackground(cb).forPath(parent, new byte[0])));
            if (c != Code.OK && c != Code.NODEEXISTS) {
                throw connection.failure(what, parent, c);
            }
        }
    }
}
