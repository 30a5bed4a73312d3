package io.pgha.jdbc;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.function.Supplier;

/**
 * A write connection handed out by {@link PghaDriver}, checked against the current leadership on every call.
 *
 * <p>Why only there: a pool in front of the driver (HikariCP with a {@code jdbc:pgha:} {@code jdbcUrl}) keeps the
 * connection for its whole life, so it never goes back to the member's pool where epoch fencing evicts it. Once the
 * leader or its epoch has changed, the next call closes the underlying connection (already soft-evicted by the
 * router, so it is discarded) and fails with {@value FailoverErrors#RECONNECT_AND_RERUN}; the outer pool evicts it on
 * that 08 state and opens a new one on the new leader. {@code isValid} says false instead, so a pool that validates
 * an idle connection drops it without an error. The cost is one volatile read per call (docs/decisions 0807).
 */
final class FencedConnection implements InvocationHandler {

    private final Connection target;
    private final Topology openedUnder;
    private final Supplier<Topology> current;

    private FencedConnection(Connection target, Topology openedUnder, Supplier<Topology> current) {
        this.target = target;
        this.openedUnder = openedUnder;
        this.current = current;
    }

    /** @param openedUnder the snapshot the router chose {@code target} under */
    static Connection wrap(Connection target, Topology openedUnder, Supplier<Topology> current) {
        return (Connection) Proxy.newProxyInstance(FencedConnection.class.getClassLoader(),
                new Class<?>[] {Connection.class}, new FencedConnection(target, openedUnder, current));
    }

    @Override
    public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
        switch (method.getName()) {
            case "equals":
                return proxy == args[0];
            case "hashCode":
                return System.identityHashCode(proxy);
            case "toString":
                return "pgha connection (epoch " + openedUnder.epoch() + ") " + target;
            case "close", "isClosed", "abort":
                break;
            case "isValid":
                if (stale()) {
                    return false;
                }
                break;
            default:
                if (stale()) {
                    Topology now = current.get();
                    target.close(); // a no-op when closed before
                    throw new SQLException("the leader changed from " + openedUnder.leader() + " (epoch "
                            + openedUnder.epoch() + ") to " + now.leader() + " (epoch " + now.epoch() + ") since this"
                            + " connection was opened: it is closed; open a new one and re-run",
                            FailoverErrors.RECONNECT_AND_RERUN);
                }
                break;
        }
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    private boolean stale() {
        return current.get().leadershipDiffers(openedUnder);
    }
}
