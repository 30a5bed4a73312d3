package io.pgha.core.config;

/**
 * The rules for the names that become parts of DCS keys ({@code <namespace>/<scope>/members/<name>}), in one place so
 * that the settings, the key layout and every store apply the same ones.
 */
public final class Names {

    /** Patroni's default DCS prefix. */
    public static final String DEFAULT_NAMESPACE = "/service";

    private Names() {}

    /**
     * A scope or member name: non-empty, no '/', no spaces or control characters.
     *
     * @param setting the setting's name, for the message
     * @throws IllegalArgumentException naming the setting and the value
     */
    public static String requireName(String setting, String v) {
        if (v == null || v.isBlank()) {
            throw new IllegalArgumentException(setting + " is required");
        }
        for (int i = 0; i < v.length(); i++) {
            char ch = v.charAt(i);
            if (ch == '/' || Character.isWhitespace(ch) || Character.isISOControl(ch)) {
                throw new IllegalArgumentException(setting + " must not contain '/', spaces or control characters"
                        + " (it becomes part of a DCS key; got '" + v + "')");
            }
        }
        return v;
    }

    /** The DCS prefix as stored: starts with '/', never ends with one; null or blank means {@code /service}. */
    public static String namespace(String namespace) {
        String ns = namespace == null || namespace.isBlank() ? DEFAULT_NAMESPACE : namespace.trim();
        if (!ns.startsWith("/")) {
            ns = "/" + ns;
        }
        while (ns.length() > 1 && ns.endsWith("/")) {
            ns = ns.substring(0, ns.length() - 1);
        }
        return ns;
    }
}
