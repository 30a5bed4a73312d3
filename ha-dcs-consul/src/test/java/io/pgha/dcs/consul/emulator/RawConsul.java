package io.pgha.dcs.consul.emulator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import javax.net.ssl.SSLContext;

/**
 * A bare HTTP client for tests that talk to Consul's API directly (to the emulator or to a real agent): plant raw
 * values, destroy sessions, pin the emulator's behaviour. Not the adapter: it shares none of its code.
 */
public final class RawConsul {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** An answer, whatever its status. */
    public record Answer(int status, String body, HttpHeaders headers) {

        /** {@code X-Consul-Index}, or -1. */
        public long index() {
            return headers.firstValue("X-Consul-Index").map(Long::parseLong).orElse(-1L);
        }

        public JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new UncheckedIOException("not JSON: " + body, e);
            }
        }

        /** The literal true/false body of KV writes. */
        public boolean bool() {
            if (status != 200) {
                throw new IllegalStateException("expected 200 true/false, got " + status + " " + body);
            }
            return Boolean.parseBoolean(body.trim());
        }

        /** The decoded value of the first entry of a KV read. */
        public String value() {
            JsonNode v = json().get(0).get("Value");
            return v == null || v.isNull() ? "" : new String(Base64.getDecoder().decode(v.asText()),
                    StandardCharsets.UTF_8);
        }
    }

    private final URI base;
    private final String token;
    private final HttpClient client;

    public RawConsul(URI base, String token) {
        this(base, token, null);
    }

    public RawConsul(URI base, String token, SSLContext tls) {
        this.base = base;
        this.token = token;
        HttpClient.Builder b = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5));
        if (tls != null) {
            b.sslContext(tls);
        }
        this.client = b.build();
    }

    public Answer get(String pathAndQuery) {
        return send("GET", pathAndQuery, null, Duration.ofSeconds(10));
    }

    public Answer put(String pathAndQuery, String body) {
        return send("PUT", pathAndQuery, body, Duration.ofSeconds(10));
    }

    public Answer delete(String pathAndQuery) {
        return send("DELETE", pathAndQuery, null, Duration.ofSeconds(10));
    }

    /** Creates a session from a JSON body and returns its ID (fails the test on anything but 200). */
    public String createSession(String json) {
        Answer a = put("/v1/session/create", json);
        if (a.status() != 200) {
            throw new IllegalStateException("session/create answered " + a.status() + " " + a.body());
        }
        return a.json().get("ID").asText();
    }

    /** Sends one request; the path starts with {@code /v1/}. */
    public Answer send(String method, String pathAndQuery, String body, Duration timeout) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + pathAndQuery)).timeout(timeout)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            b.header("X-Consul-Token", token);
        }
        try {
            HttpResponse<String> r = client.send(b.build(), HttpResponse.BodyHandlers.ofString());
            return new Answer(r.statusCode(), r.body(), r.headers());
        } catch (IOException e) {
            throw new UncheckedIOException(method + " " + pathAndQuery + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
