package io.pgha.core.internal.rest;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.LongAction;
import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.HaSettings;
import java.time.Duration;
import java.time.Instant;

/** Changes one or two fields of a {@link NodeStatus} in a test. */
final class Snap {
    private HaSettings settings;
    private PgState pg;
    private LongAction busy;
    private Role role;
    private String decision;
    private ClusterView view;
    private boolean dcsReachable;
    private Instant dcsLastSeen;
    private boolean holdsLease;
    private boolean failsafeActive;
    private Duration sinceLastCycle;
    private Instant wallNow;

    private Snap(NodeStatus s) {
        settings = s.settings();
        pg = s.pg();
        busy = s.busy();
        role = s.role();
        decision = s.decision();
        view = s.view();
        dcsReachable = s.dcsReachable();
        dcsLastSeen = s.dcsLastSeen();
        holdsLease = s.holdsLease();
        failsafeActive = s.failsafeActive();
        sinceLastCycle = s.sinceLastCycle();
        wallNow = s.wallNow();
    }

    static Snap of(NodeStatus s) {
        return new Snap(s);
    }

    Snap settings(HaSettings v) {
        settings = v;
        return this;
    }

    Snap pg(PgState v) {
        pg = v;
        return this;
    }

    Snap busy(LongAction v) {
        busy = v;
        return this;
    }

    Snap view(ClusterView v) {
        view = v;
        return this;
    }

    Snap dcsReachable(boolean v) {
        dcsReachable = v;
        return this;
    }

    Snap holdsLease(boolean v) {
        holdsLease = v;
        return this;
    }

    Snap failsafeActive(boolean v) {
        failsafeActive = v;
        return this;
    }

    Snap sinceLastCycle(Duration v) {
        sinceLastCycle = v;
        return this;
    }

    NodeStatus build() {
        return new NodeStatus(settings, role, pg, busy, view, dcsReachable, dcsLastSeen, holdsLease,
                failsafeActive, decision, sinceLastCycle, wallNow);
    }
}
