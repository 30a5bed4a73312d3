package io.pgha.core.config;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Objects;

/**
 * HTTP basic-auth credentials: what the REST API demands on mutating requests ({@code restapi.authentication}) and
 * what the peer client sends to other members ({@code ctl.authentication}, falling back to the former).
 *
 * @param username user name; must not contain ':' (basic auth cannot carry it)
 * @param password password
 */
public record Credentials(String username, String password) {

    public Credentials {
        Objects.requireNonNull(username, "username");
        Objects.requireNonNull(password, "password");
        if (username.isEmpty() || username.indexOf(':') >= 0) {
            throw new IllegalArgumentException("a basic-auth username must be non-empty and must not contain ':'");
        }
    }

    /** The {@code Authorization} header value. */
    public String header() {
        return "Basic " + Base64.getEncoder().encodeToString(
                (username + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    /** Never prints the password. */
    @Override
    public String toString() {
        return "Credentials[username=" + username + ", password=***]";
    }
}
