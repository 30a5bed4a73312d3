package io.pgha.core.testkit;

import io.pgha.core.cluster.ClusterStatus;
import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.FailoverRequest;
import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.SyncState;
import io.pgha.core.cluster.TimelineHistory;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.spi.MemberNameTakenException;
import java.time.Duration;
import java.util.Map;

/** <b>Test helper.</b> A {@link Dcs} that passes every call on; tests override the calls they want to watch. */
public class ForwardingDcs implements Dcs {

    protected final Dcs delegate;

    public ForwardingDcs(Dcs delegate) {
        this.delegate = delegate;
    }

    @Override
    public String memberName() {
        return delegate.memberName();
    }

    @Override
    public ClusterView read() throws DcsUnavailableException {
        return delegate.read();
    }

    @Override
    public boolean initialize(String value) throws DcsUnavailableException {
        return delegate.initialize(value);
    }

    @Override
    public boolean acquireLeader() throws DcsUnavailableException {
        return delegate.acquireLeader();
    }

    @Override
    public boolean renewLeader() throws DcsUnavailableException {
        return delegate.renewLeader();
    }

    @Override
    public boolean releaseLeader() throws DcsUnavailableException {
        return delegate.releaseLeader();
    }

    @Override
    public boolean setInitialize(String sysid, long expectedVersion) throws DcsUnavailableException {
        return delegate.setInitialize(sysid, expectedVersion);
    }

    @Override
    public boolean deleteInitialize(long expectedVersion) throws DcsUnavailableException {
        return delegate.deleteInitialize(expectedVersion);
    }

    @Override
    public boolean writeConfig(GlobalConfig config, long expectedVersion) throws DcsUnavailableException {
        return delegate.writeConfig(config, expectedVersion);
    }

    @Override
    public boolean writeSync(SyncState state, long expectedVersion) throws DcsUnavailableException {
        return delegate.writeSync(state, expectedVersion);
    }

    @Override
    public boolean deleteSync(long expectedVersion) throws DcsUnavailableException {
        return delegate.deleteSync(expectedVersion);
    }

    @Override
    public boolean writeFailover(FailoverRequest request, long expectedVersion) throws DcsUnavailableException {
        return delegate.writeFailover(request, expectedVersion);
    }

    @Override
    public boolean clearFailover(long expectedVersion) throws DcsUnavailableException {
        return delegate.clearFailover(expectedVersion);
    }

    @Override
    public void touchMember(Member data) throws DcsUnavailableException, MemberNameTakenException {
        delegate.touchMember(data);
    }

    @Override
    public boolean memberKeyHeld() throws DcsUnavailableException {
        return delegate.memberKeyHeld();
    }

    @Override
    public void deleteMember() throws DcsUnavailableException {
        delegate.deleteMember();
    }

    @Override
    public boolean writeStatus(ClusterStatus status, long expectedVersion) throws DcsUnavailableException {
        return delegate.writeStatus(status, expectedVersion);
    }

    @Override
    public boolean writeHistory(TimelineHistory history, long expectedVersion) throws DcsUnavailableException {
        return delegate.writeHistory(history, expectedVersion);
    }

    @Override
    public void writeFailsafe(Map<String, String> members) throws DcsUnavailableException {
        delegate.writeFailsafe(members);
    }

    @Override
    public Duration leaseGuarantee() {
        return delegate.leaseGuarantee();
    }

    @Override
    public void watchLeader(Runnable onChange) {
        delegate.watchLeader(onChange);
    }

    @Override
    public void watchMembers(Runnable onChange) {
        delegate.watchMembers(onChange);
    }

    @Override
    public void close() {
        delegate.close();
    }
}
