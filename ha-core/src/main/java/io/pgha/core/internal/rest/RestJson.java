package io.pgha.core.internal.rest;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Map;

/**
 * The REST API's own JSON: documents it serves and bodies it reads. Separate from the DCS codec, which owns the
 * stored formats; what both show (tags, the config document) passes between them as JDK values.
 */
final class RestJson {

    static final ObjectMapper MAPPER =
            new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    private static final TypeReference<Map<String, Object>> MAP = new TypeReference<>() {};

    private RestJson() {}

    static byte[] bytes(JsonNode n) {
        try {
            return MAPPER.writeValueAsBytes(n);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise " + n.getNodeType(), e);
        }
    }

    /** A JSON object as JDK values (maps, lists, strings, numbers, booleans, nulls). */
    static Map<String, Object> toMap(JsonNode object) {
        return MAPPER.convertValue(object, MAP);
    }
}
