package io.pgha.dcs.etcd;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgha.core.spi.DcsUnavailableException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;

/**
 * The JSON of etcd's v3 gRPC gateway, both ways. Pure functions, so every quirk is unit-tested without a server:
 * <ul>
 *   <li>keys and values are base64;</li>
 *   <li>int64 fields (revisions, lease ID and TTL) arrive as JSON strings; requests may send strings or numbers, and
 *       this class always sends strings (a lease ID does not fit a double);</li>
 *   <li>proto3 omits default values: a failed txn has no {@code succeeded}, a PUT watch event has no {@code type}, an
 *       empty range has no {@code kvs}, a keepalive for a lease that is gone has no {@code TTL};</li>
 *   <li>the lease fields are {@code ID} and {@code TTL} (upper case; {@code ttl} would be silently ignored), all
 *       others snake_case.</li>
 * </ul>
 */
final class EtcdJson {

    /** Configured once, never mutated afterwards. */
    static final ObjectMapper MAPPER =
            new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    private EtcdJson() {}

    /** Reads one part of an answer; throws IllegalArgumentException when the answer does not have that shape. */
    @FunctionalInterface
    interface Decoder<T> {
        T decode();
    }

    /** Gateway JSON that does not have the expected shape means we do not know what etcd did: unavailable. */
    static <T> T decode(String what, Decoder<T> d) throws DcsUnavailableException {
        try {
            return d.decode();
        } catch (IllegalArgumentException e) {
            throw new DcsUnavailableException(what + ": unexpected answer from the etcd gateway: " + e.getMessage(), e);
        }
    }

    // ------------------------------------------------------------------------------------------------ values

    static String b64(String utf8) {
        return b64(utf8.getBytes(StandardCharsets.UTF_8));
    }

    static String b64(byte[] bytes) {
        return Base64.getEncoder().encodeToString(bytes);
    }

    static byte[] unb64(JsonNode parent, String field) {
        JsonNode n = parent.get(field);
        if (n == null || n.isNull()) {
            return new byte[0];
        }
        if (!n.isTextual()) {
            throw new IllegalArgumentException("etcd gateway field '" + field + "' is not base64 text: " + n);
        }
        try {
            return Base64.getDecoder().decode(n.asText());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("etcd gateway field '" + field + "' is not valid base64: " + n, e);
        }
    }

    /**
     * An int64 field: a string (what the gateway sends) or a number; absent means 0, the proto3 default.
     */
    static long int64(JsonNode parent, String field) {
        JsonNode n = parent == null ? null : parent.get(field);
        if (n == null || n.isNull()) {
            return 0;
        }
        if (n.isIntegralNumber() && n.canConvertToLong()) {
            return n.asLong();
        }
        if (n.isTextual()) {
            try {
                return Long.parseLong(n.asText().trim());
            } catch (NumberFormatException e) {
                // fall through: uint64 values above Long.MAX_VALUE are refused too
            }
        }
        throw new IllegalArgumentException("etcd gateway field '" + field + "' is not an int64: " + n);
    }

    /** A bool field; absent means false (proto3 omits false). */
    static boolean bool(JsonNode parent, String field) {
        JsonNode n = parent == null ? null : parent.get(field);
        return n != null && n.asBoolean(false);
    }

    /** The end of a prefix range: the prefix with its last byte incremented (dropping trailing 0xff bytes). */
    static byte[] prefixEnd(byte[] prefix) {
        byte[] end = Arrays.copyOf(prefix, prefix.length);
        for (int i = end.length - 1; i >= 0; i--) {
            if ((end[i] & 0xff) != 0xff) {
                end[i]++;
                return Arrays.copyOf(end, i + 1);
            }
        }
        // All 0xff: the range runs to the end of the key space.
        return new byte[] {0};
    }

    // ------------------------------------------------------------------------------------------------ requests

    static ObjectNode range(String key) {
        ObjectNode o = MAPPER.createObjectNode();
        o.put("key", b64(key));
        return o;
    }

    static ObjectNode rangePrefix(String prefix) {
        byte[] p = prefix.getBytes(StandardCharsets.UTF_8);
        ObjectNode o = MAPPER.createObjectNode();
        o.put("key", b64(p));
        o.put("range_end", b64(prefixEnd(p)));
        return o;
    }

    /** {@code range} answering with the count and the store's revision only, no keys or values. */
    static ObjectNode countOnly(ObjectNode range) {
        range.put("count_only", true);
        return range;
    }

    /** A put; {@code lease} 0 = not attached to a lease. */
    static ObjectNode put(String key, byte[] value, long lease) {
        ObjectNode o = MAPPER.createObjectNode();
        o.put("key", b64(key));
        o.put("value", b64(value));
        if (lease != 0) {
            o.put("lease", Long.toString(lease));
        }
        return o;
    }

    static ObjectNode delete(String key) {
        ObjectNode o = MAPPER.createObjectNode();
        o.put("key", b64(key));
        return o;
    }

    /** Compare: the key does not exist ({@code create_revision == 0}). */
    static ObjectNode absent(String key) {
        return compare("CREATE", key, "create_revision", "0");
    }

    /** Compare: the key was last modified at {@code revision}. */
    static ObjectNode modRevision(String key, long revision) {
        return compare("MOD", key, "mod_revision", Long.toString(revision));
    }

    static ObjectNode valueEquals(String key, byte[] value) {
        return compare("VALUE", key, "value", b64(value));
    }

    static ObjectNode leaseEquals(String key, long lease) {
        return compare("LEASE", key, "lease", Long.toString(lease));
    }

    private static ObjectNode compare(String target, String key, String field, String value) {
        ObjectNode o = MAPPER.createObjectNode();
        o.put("target", target);
        o.put("key", b64(key));
        o.put("result", "EQUAL");
        o.put(field, value);
        return o;
    }

    /** One operation of a txn branch: {@code kind} is {@code request_put}, {@code request_range} or
     *  {@code request_delete_range}. */
    static ObjectNode op(String kind, ObjectNode request) {
        ObjectNode o = MAPPER.createObjectNode();
        o.set(kind, request);
        return o;
    }

    static ObjectNode txn(List<ObjectNode> compare, List<ObjectNode> success, List<ObjectNode> failure) {
        ObjectNode o = MAPPER.createObjectNode();
        ArrayNode c = o.putArray("compare");
        compare.forEach(c::add);
        ArrayNode s = o.putArray("success");
        success.forEach(s::add);
        ArrayNode f = o.putArray("failure");
        failure.forEach(f::add);
        return o;
    }

    static ObjectNode leaseGrant(long ttlSeconds) {
        ObjectNode o = MAPPER.createObjectNode();
        o.put("TTL", Long.toString(ttlSeconds));
        return o;
    }

    static ObjectNode leaseId(long id) {
        ObjectNode o = MAPPER.createObjectNode();
        o.put("ID", Long.toString(id));
        return o;
    }

    static ObjectNode authenticate(String user, String password) {
        ObjectNode o = MAPPER.createObjectNode();
        o.put("name", user);
        o.put("password", password);
        return o;
    }

    /** A watch on one key from {@code startRevision} (0 = from now). */
    /** {@code prefix}: every key starting with {@code key} ({@code range_end} = the prefix's end). */
    static ObjectNode watchCreate(String key, boolean prefix, long startRevision) {
        ObjectNode req = prefix ? rangePrefix(key) : range(key);
        if (startRevision > 0) {
            req.put("start_revision", Long.toString(startRevision));
        }
        ObjectNode o = MAPPER.createObjectNode();
        o.set("create_request", req);
        return o;
    }

    // ------------------------------------------------------------------------------------------------ responses

    /** One key-value as the gateway returns it. {@code lease} is 0 when the key has none. */
    record Kv(String key, byte[] value, long createRevision, long modRevision, long version, long lease) {}

    static Kv kv(JsonNode n) {
        return new Kv(new String(unb64(n, "key"), StandardCharsets.UTF_8), unb64(n, "value"),
                int64(n, "create_revision"), int64(n, "mod_revision"), int64(n, "version"), int64(n, "lease"));
    }

    /** The {@code kvs} of a range response; absent (an empty range) means none. */
    static List<Kv> kvs(JsonNode rangeResponse) {
        List<Kv> out = new ArrayList<>();
        JsonNode kvs = rangeResponse.get("kvs");
        if (kvs != null && kvs.isArray()) {
            for (JsonNode n : kvs) {
                out.add(kv(n));
            }
        }
        return out;
    }

    /** The store revision a response was served at ({@code header.revision}). */
    static long revision(JsonNode response) {
        return int64(response.get("header"), "revision");
    }

    /** A txn answer: {@code succeeded} is absent when the compare failed. */
    record TxnResult(boolean succeeded, List<JsonNode> responses, long revision) {

        /** The kvs of the {@code i}-th operation's range response (of the branch that ran). */
        List<Kv> rangeKvs(int i) {
            if (i >= responses.size()) {
                return List.of();
            }
            JsonNode r = responses.get(i).get("response_range");
            return r == null ? List.of() : kvs(r);
        }
    }

    static TxnResult txnResult(JsonNode n) {
        List<JsonNode> rs = new ArrayList<>();
        JsonNode arr = n.get("responses");
        if (arr != null && arr.isArray()) {
            arr.forEach(rs::add);
        }
        return new TxnResult(bool(n, "succeeded"), List.copyOf(rs), revision(n));
    }

    /** A granted lease: its ID and the TTL etcd granted (which may differ from the one asked for). */
    record Grant(long id, long ttlSeconds) {}

    static Grant grant(JsonNode n) {
        long id = int64(n, "ID");
        long ttl = int64(n, "TTL");
        if (id == 0 || ttl <= 0) {
            String err = n.path("error").asText("");
            throw new IllegalArgumentException("etcd granted no usable lease (ID " + id + ", TTL " + ttl + ")"
                    + (err.isEmpty() ? "" : ": " + err));
        }
        return new Grant(id, ttl);
    }

    /**
     * The TTL from a keepalive answer ({@code {"result":{"ID":..,"TTL":..}}}); 0 when the lease is gone: etcd then
     * answers 200 with the ID and no TTL (proto3 drops the 0), not with an error.
     */
    static long keepaliveTtl(JsonNode n) {
        JsonNode result = n.has("result") ? n.get("result") : n;
        return Math.max(0, int64(result, "TTL"));
    }

    /** An error body: {@code {"error": "...", "message": "...", "code": n}}; code is the gRPC status code. */
    record Error(int code, String message) {
        static final int INVALID_ARGUMENT = 3;
        static final int NOT_FOUND = 5;
        static final int PERMISSION_DENIED = 7;
        static final int OUT_OF_RANGE = 11;
        static final int UNAVAILABLE = 14;
        static final int UNAUTHENTICATED = 16;

        boolean leaseNotFound() {
            return code == NOT_FOUND && message.contains("lease not found");
        }

        /** The token was not accepted and a new one may be: expired, or issued before an auth change. */
        boolean tokenRejected() {
            return code == UNAUTHENTICATED || message.contains("invalid auth token")
                    || message.contains("revision of auth store is old");
        }

        /** etcd runs with auth and the request carried no token. */
        boolean tokenMissing() {
            return message.contains("user name is empty");
        }

        boolean permissionDenied() {
            return code == PERMISSION_DENIED;
        }

        /** The member cannot serve now (no leader, leader changed, timed out) but another member may. */
        boolean unavailable() {
            return code == UNAVAILABLE;
        }
    }

    /**
     * The error in a body, or null when it carries none. Unary errors are {@code {"error":"..","code":n}}; a
     * streaming call (keepalive, watch) wraps them as {@code {"error":{"grpc_code":n,"message":".."}}}.
     */
    static Error error(JsonNode n) {
        if (n == null || !n.has("error")) {
            return null;
        }
        JsonNode e = n.get("error");
        if (e.isObject()) {
            int code = e.has("grpc_code") ? e.get("grpc_code").asInt() : e.path("code").asInt();
            String msg = e.path("message").asText(e.toString());
            return new Error(code, msg);
        }
        String msg = n.path("message").asText(e.asText());
        return new Error(n.path("code").asInt(), msg.isEmpty() ? e.asText() : msg);
    }

    /** One event of a watch: a PUT carries no {@code type} at all, only a DELETE says so. */
    record Event(boolean delete, Kv kv) {}

    /** One message of a watch stream. */
    record WatchMessage(boolean created, boolean canceled, long compactRevision, String cancelReason,
            List<Event> events, long revision) {}

    /** Parses one object of a watch stream ({@code {"result":{...}}}); a {@code {"error":..}} line returns null. */
    static WatchMessage watchMessage(JsonNode n) {
        JsonNode r = n.get("result");
        if (r == null) {
            return null;
        }
        List<Event> events = new ArrayList<>();
        JsonNode arr = r.get("events");
        if (arr != null && arr.isArray()) {
            for (JsonNode e : arr) {
                events.add(new Event("DELETE".equals(e.path("type").asText("PUT")), kv(e.path("kv"))));
            }
        }
        return new WatchMessage(bool(r, "created"), bool(r, "canceled"), int64(r, "compact_revision"),
                r.path("cancel_reason").asText(""), List.copyOf(events), revision(r));
    }

    /**
     * A warning for an etcd server release that can end leases early when its leader stalls (etcd-io/etcd#15247: a
     * stalled leader revokes leases that the new leader renewed, and accepts renewals the new leader never sees), or
     * null for a release with every fix (3.4.38, 3.5.23, 3.6.5 and later) or a version it cannot read. See
     * docs/decisions 0302.
     */
    static String leaseRevocationWarning(String serverVersion) {
        String[] parts = serverVersion == null ? new String[0] : serverVersion.trim().split("[.+-]");
        int[] v = new int[3];
        try {
            for (int i = 0; i < 3; i++) {
                v[i] = Integer.parseInt(parts[i]);
            }
        } catch (ArrayIndexOutOfBoundsException | NumberFormatException e) {
            return null;
        }
        int fixedPatch = v[0] != 3 ? -1 : switch (v[1]) {
            case 4 -> 38;
            case 5 -> 23;
            case 6 -> 5;
            default -> v[1] < 4 ? Integer.MAX_VALUE : -1;
        };
        if (v[2] >= fixedPatch) {
            return null;
        }
        return "etcd server " + serverVersion.trim() + " can end leases early when its leader stalls (slow disk, "
                + "CPU; etcd-io/etcd#15247): the lease guarantee then does not hold and two members may both be "
                + "primary for a moment. Upgrade etcd to 3.4.38, 3.5.23, 3.6.5 or later";
    }

    /**
     * The API prefix for a {@code /version} answer: {@code /v3} from etcd 3.4 on, {@code /v3beta} for 3.3. Null
     * while the cluster version is not decided yet (a starting cluster); older clusters are refused.
     */
    static String apiPrefixFor(JsonNode version) {
        String cluster = version.path("etcdcluster").asText("");
        String[] parts = cluster.split("\\.");
        if (parts.length < 2) {
            return null;
        }
        int major;
        int minor;
        try {
            major = Integer.parseInt(parts[0]);
            minor = Integer.parseInt(parts[1]);
        } catch (NumberFormatException e) {
            return null;
        }
        if (major > 3 || (major == 3 && minor >= 4)) {
            return "/v3";
        }
        if (major == 3 && minor == 3) {
            return "/v3beta";
        }
        throw new IllegalArgumentException("etcd cluster version " + cluster + " is not supported: the v3 JSON "
                + "gateway needs etcd 3.3 or later");
    }
}
