package io.pgha.core.cluster;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A parameter that waits for a restart: the value the server runs with and the one its configuration files give it
 * at the next start, both as PostgreSQL shows values ({@code 128MB}, {@code 5min}, {@code on}). One entry of
 * Patroni's {@code pending_restart_reason}.
 *
 * @param oldValue the value in force ({@code current_setting})
 * @param newValue the value a restart brings
 */
public record ParameterChange(String oldValue, String newValue) {

    public ParameterChange {
        Objects.requireNonNull(oldValue, "oldValue");
        Objects.requireNonNull(newValue, "newValue");
    }

    /**
     * Patroni's {@code pending_restart_reason}: {@code {name: {old_value, new_value}}}, in the order given (by name,
     * as the probe reports them).
     */
    public static Map<String, Object> patroniJson(Map<String, ParameterChange> reason) {
        Map<String, Object> json = new LinkedHashMap<>();
        reason.forEach((name, c) -> {
            Map<String, String> values = new LinkedHashMap<>();
            values.put("old_value", c.oldValue());
            values.put("new_value", c.newValue());
            json.put(name, values);
        });
        return json;
    }
}
