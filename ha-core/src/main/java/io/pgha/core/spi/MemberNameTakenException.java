package io.pgha.core.spi;

import java.util.Objects;

/**
 * This member's name is registered in the store by a live session that is not one of this {@link Dcs} instance's own:
 * another process runs with the same member name (docs/decisions 0011). Thrown by {@link Dcs#touchMember}, which then
 * has changed nothing. Two processes with one name would both renew, both promote, and one could release the other's
 * leader key, so the HA loop refuses to start (or, if it was running, stops leading) instead of retrying.
 */
public class MemberNameTakenException extends Exception {

    private static final long serialVersionUID = 1L;

    private final String member;
    private final String scope;
    private final String store;
    private final String holder;

    /**
     * @param member the member name
     * @param scope  the cluster's scope
     * @param store  the store as a person would name it, e.g. {@code ZooKeeper (zk1:2181)}
     * @param holder the live session or lease that holds the key, in the store's terms, e.g. {@code session 0x1f3}
     */
    public MemberNameTakenException(String member, String scope, String store, String holder) {
        super("member name '" + Objects.requireNonNull(member, "member") + "' of scope '"
                + Objects.requireNonNull(scope, "scope") + "' is registered in " + Objects.requireNonNull(store, "store")
                + " by another live session (" + Objects.requireNonNull(holder, "holder") + "), not by this process: "
                + "another process runs with this name. Member names must be unique; this one does not register, "
                + "renew, release or delete anything of that name");
        this.member = member;
        this.scope = scope;
        this.store = store;
        this.holder = holder;
    }

    public String member() {
        return member;
    }

    public String scope() {
        return scope;
    }

    public String store() {
        return store;
    }

    /** The session or lease holding the member key, in the store's terms. */
    public String holder() {
        return holder;
    }
}
