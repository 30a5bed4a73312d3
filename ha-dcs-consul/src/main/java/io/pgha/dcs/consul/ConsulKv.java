package io.pgha.dcs.consul;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgha.core.spi.DcsUnavailableException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Locale;

/**
 * Consul's KV API as the adapter reads and writes it: entries as Consul lists them (base64 values, indexes, the
 * holding session), {@code true}/{@code false} answers, and KV transactions with their per-operation errors.
 */
final class ConsulKv {

    static final ObjectMapper JSON = new ObjectMapper();

    private final ConsulSettings settings;
    private final ConsulHttp http;
    private final String prefix;

    /** @param prefix the cluster's key prefix, named in the message of a refused transaction */
    ConsulKv(ConsulSettings settings, ConsulHttp http, String prefix) {
        this.settings = settings;
        this.http = http;
        this.prefix = prefix;
    }

    /** One KV entry as Consul returns it; {@code session} is null when no session holds the key. */
    record KvEntry(String key, byte[] value, String session, long lockIndex, long createIndex, long modifyIndex) {
        boolean holds(String member) {
            return new String(value, StandardCharsets.UTF_8).trim().equals(member);
        }
    }

    /** The entry at {@code key}, read with the configured consistency; null when absent. */
    KvEntry get(String what, String key, long deadline) throws DcsUnavailableException {
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

    /** A query of {@code params} (alternating names and values) plus the configured read consistency. */
    List<String> readQuery(String... params) {
        List<String> q = new ArrayList<>(Arrays.asList(params));
        String c = settings.consistency().queryParameter();
        if (c != null) {
            q.add(c);
            q.add(null);
        }
        return q;
    }

    static List<KvEntry> parseEntries(String what, ConsulHttp.Response r) throws DcsUnavailableException {
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

    static boolean parseBool(String what, ConsulHttp.Response r) throws DcsUnavailableException {
        String t = r.text().trim();
        if (t.equals("true")) {
            return true;
        }
        if (t.equals("false")) {
            return false;
        }
        throw ConsulHttp.unexpected(what + " (expected true or false)", r);
    }

    static boolean mentionsInvalidSession(String text) {
        return text.toLowerCase(Locale.ROOT).contains("invalid session");
    }

    /** The outcome of a KV transaction; a rolled-back one lists Consul's reasons. */
    record TxnOutcome(boolean ok, List<String> errors) {
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

    TxnOutcome txn(String what, long deadline, ObjectNode... ops) throws DcsUnavailableException {
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

    static ObjectNode op(String verb, String key) {
        ObjectNode o = JSON.createObjectNode();
        o.put("Verb", verb);
        o.put("Key", key);
        return o;
    }

    static ObjectNode indexOp(String verb, String key, long index) {
        ObjectNode o = op(verb, key);
        o.put("Index", index);
        return o;
    }

    static ObjectNode lockOp(String key, byte[] value, String session) {
        ObjectNode o = op("lock", key);
        o.put("Value", Base64.getEncoder().encodeToString(value));
        o.put("Session", session);
        return o;
    }

    static byte[] bytes(JsonNode n) {
        try {
            return JSON.writeValueAsBytes(n);
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode JSON", e);
        }
    }
}
