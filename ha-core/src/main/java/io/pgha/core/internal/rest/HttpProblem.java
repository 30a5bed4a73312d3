package io.pgha.core.internal.rest;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;

/** Ends a request early with a status and a message (bad input, a missing key, an unreachable DCS). */
final class HttpProblem extends Exception {

    private static final long serialVersionUID = 1L;

    private final int status;

    HttpProblem(int status, String message) {
        super(message, null, false, false);
        this.status = status;
    }

    Response response() {
        return Response.text(status, getMessage());
    }

    int status() {
        return status;
    }

    /** The body as a JSON object; 411 without Content-Length, 400 when it is not a JSON object. */
    static JsonNode jsonObject(Request r) throws HttpProblem {
        if (!r.contentLength()) {
            throw new HttpProblem(411, "a Content-Length header is required");
        }
        JsonNode n;
        try {
            n = RestJson.MAPPER.readTree(r.body());
        } catch (JsonProcessingException e) {
            throw new HttpProblem(400, "the body is not valid JSON: " + e.getOriginalMessage());
        } catch (java.io.IOException e) {
            throw new HttpProblem(400, "the body cannot be read: " + e.getMessage());
        }
        if (n == null || n.isMissingNode() || !n.isObject()) {
            throw new HttpProblem(400, "the body must be a JSON object");
        }
        return n;
    }
}
