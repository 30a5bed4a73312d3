package io.pgha.core.internal.rest;

import java.util.Map;
import java.util.Objects;

/**
 * One HTTP request as the routes see it.
 *
 * @param method        upper-case method
 * @param path          path without a trailing slash ({@code /} for the root)
 * @param query         query parameters, the first value of each
 * @param body          the request body (empty when none was sent)
 * @param contentLength the request declared a {@code Content-Length}
 */
record Request(String method, String path, Map<String, String> query, byte[] body, boolean contentLength) {

    Request {
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(path, "path");
        query = Map.copyOf(query);
        body = body == null ? new byte[0] : body;
    }
}
