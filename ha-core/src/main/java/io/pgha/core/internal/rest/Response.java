package io.pgha.core.internal.rest;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * One HTTP answer: status, body and extra headers. Messages are plain text (patronictl prints them as they come);
 * documents are JSON.
 */
record Response(int status, String contentType, byte[] body, Map<String, String> headers) {

    Response {
        Objects.requireNonNull(body, "body");
        headers = Map.copyOf(headers);
    }

    static Response json(int status, JsonNode doc) {
        return new Response(status, "application/json", RestJson.bytes(doc), Map.of());
    }

    static Response text(int status, String message) {
        return new Response(status, "text/plain; charset=utf-8", message.getBytes(StandardCharsets.UTF_8), Map.of());
    }

    static Response empty(int status) {
        return new Response(status, null, new byte[0], Map.of());
    }

    Response withHeader(String name, String value) {
        Map<String, String> h = new LinkedHashMap<>(headers);
        h.put(name, value);
        return new Response(status, contentType, body, h);
    }

    String bodyText() {
        return new String(body, StandardCharsets.UTF_8);
    }
}
