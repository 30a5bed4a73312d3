package io.pgha.core.internal.rest;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgha.core.config.Credentials;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** A small blocking HTTP client for the REST tests; every call is bounded by a timeout. */
final class Http {

    /** One answer. */
    record Resp(int status, String body, HttpHeaders headers) {
        JsonNode json() {
            try {
                return RestJson.MAPPER.readTree(body);
            } catch (IOException e) {
                throw new UncheckedIOException("not JSON: " + body, e);
            }
        }

        String header(String name) {
            return headers.firstValue(name).orElse(null);
        }
    }

    private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    private final URI base;
    private String auth;

    Http(String hostPort) {
        this.base = URI.create("http://" + hostPort);
    }

    /** A client of {@code api} that sends the credentials the API demands, if any. */
    static Http to(RestApi api) {
        return anonymous(api).withAuth(api.settings().credentials());
    }

    /** A client of {@code api} without credentials. */
    static Http anonymous(RestApi api) {
        return new Http("127.0.0.1:" + api.address().getPort());
    }

    Http withAuth(Credentials c) {
        Http h = new Http(base.getAuthority());
        h.auth = c == null ? null : c.header();
        return h;
    }

    Http withAuthHeader(String header) {
        Http h = new Http(base.getAuthority());
        h.auth = header;
        return h;
    }

    Resp get(String path) {
        return send("GET", path, null);
    }

    Resp head(String path) {
        return send("HEAD", path, null);
    }

    Resp options(String path) {
        return send("OPTIONS", path, null);
    }

    Resp post(String path, String json) {
        return send("POST", path, json);
    }

    Resp patch(String path, String json) {
        return send("PATCH", path, json);
    }

    Resp put(String path, String json) {
        return send("PUT", path, json);
    }

    Resp delete(String path) {
        return send("DELETE", path, null);
    }

    /** A body of unknown length: sent chunked, without Content-Length. */
    Resp sendChunked(String method, String path, String json) {
        byte[] b = json.getBytes(StandardCharsets.UTF_8);
        return exchange(request(path).method(method,
                HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(b))));
    }

    Resp send(String method, String path, String json) {
        HttpRequest.BodyPublisher body = json == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofString(json);
        HttpRequest.Builder b = request(path).method(method, body);
        if (json != null) {
            b.header("Content-Type", "application/json");
        }
        return exchange(b);
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(60));
        if (auth != null) {
            b.header("Authorization", auth);
        }
        return b;
    }

    private static Resp exchange(HttpRequest.Builder b) {
        try {
            HttpResponse<String> r = CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofString());
            return new Resp(r.statusCode(), r.body(), r.headers());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
