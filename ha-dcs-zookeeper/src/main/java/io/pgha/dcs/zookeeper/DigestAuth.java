package io.pgha.dcs.zookeeper;

import java.nio.charset.StandardCharsets;
import java.security.NoSuchAlgorithmException;
import java.util.Objects;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

/**
 * ZooKeeper {@code digest} credentials. Every member of a cluster (and every tool that writes its keys) uses the
 * same pair: the keys carry one ACL entry for this identity.
 *
 * @param user     the user name; no {@code ':'}
 * @param password the password; never logged ({@link #toString()} masks it)
 */
public record DigestAuth(String user, String password) {

    public DigestAuth {
        Objects.requireNonNull(user, "digest auth user");
        Objects.requireNonNull(password, "digest auth password");
        if (user.isBlank() || user.contains(":")) {
            throw new IllegalArgumentException(
                    "ZooKeeper digest auth user must be non-empty and contain no ':' (got '" + user + "')");
        }
        if (password.isEmpty()) {
            throw new IllegalArgumentException("ZooKeeper digest auth password must not be empty (user '" + user + "')");
        }
    }

    /** Parses ZooKeeper's {@code user:password} form; the password may itself contain {@code ':'}. */
    public static DigestAuth parse(String userColonPassword) {
        Objects.requireNonNull(userColonPassword, "digest auth");
        int colon = userColonPassword.indexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException("ZooKeeper digest auth must look like user:password (no ':' after a "
                    + "non-empty user name found)");
        }
        return new DigestAuth(userColonPassword.substring(0, colon), userColonPassword.substring(colon + 1));
    }

    /** The bytes sent with {@code addAuthInfo("digest", ...)}. */
    byte[] authBytes() {
        return (user + ":" + password).getBytes(StandardCharsets.UTF_8);
    }

    /** The ACL id ZooKeeper derives from these credentials: {@code user:base64(sha1(user:password))}. */
    String aclId() {
        try {
            return DigestAuthenticationProvider.generateDigest(user + ":" + password);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM offers no SHA-1, which ZooKeeper digest auth requires", e);
        }
    }

    @Override
    public String toString() {
        return "DigestAuth[user=" + user + ", password=***]";
    }
}
