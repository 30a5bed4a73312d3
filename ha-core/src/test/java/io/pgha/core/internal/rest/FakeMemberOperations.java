package io.pgha.core.internal.rest;

import io.pgha.core.cluster.LongAction;
import io.pgha.core.internal.ha.MemberOperations;
import io.pgha.core.internal.ha.MemberRequest;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

/**
 * FAKE, for endpoint tests: stands in for the HA loop behind {@link MemberOperations}. It records every request and
 * ends each one at once with the answer the test scripted (null: it stays queued, as when the loop is busy). The
 * loop's own handling of requests is tested in {@code OperatorRequestRulesTest} and end to end.
 */
final class FakeMemberOperations implements MemberOperations {

    final List<MemberRequest> submitted = new CopyOnWriteArrayList<>();
    private final AtomicLong ids = new AtomicLong();
    private final AtomicReference<MemberRequest> queued = new AtomicReference<>();
    private final AtomicReference<MemberRequest.Restart> scheduled = new AtomicReference<>();
    private final AtomicReference<MemberRequest.Outcome> outcome = new AtomicReference<>();
    volatile Function<MemberRequest, MemberRequest.Outcome> loop =
            r -> new MemberRequest.Outcome(r.id(), true, "restarted successfully");
    volatile LongAction busy;

    @Override
    public long newRequestId() {
        return ids.incrementAndGet();
    }

    @Override
    public Optional<String> submit(MemberRequest request) {
        if (queued.get() != null) {
            return Optional.of("restart already in progress");
        }
        submitted.add(request);
        MemberRequest.Outcome o = loop.apply(request);
        if (o == null) {
            queued.set(request);
        } else {
            outcome.set(o);
        }
        return Optional.empty();
    }

    @Override
    public boolean schedule(MemberRequest.Restart restart) {
        submitted.add(restart);
        return scheduled.compareAndSet(null, restart);
    }

    @Override
    public boolean cancelScheduledRestart() {
        return scheduled.getAndSet(null) != null;
    }

    @Override
    public Optional<MemberRequest.Restart> scheduledRestart() {
        return Optional.ofNullable(scheduled.get());
    }

    @Override
    public Optional<MemberRequest.Outcome> outcome(long id) {
        MemberRequest.Outcome o = outcome.get();
        return o != null && o.id() == id ? Optional.of(o) : Optional.empty();
    }

    @Override
    public boolean withdraw(long id) {
        MemberRequest q = queued.get();
        return q != null && q.id() == id && queued.compareAndSet(q, null);
    }

    @Override
    public boolean waiting(long id) {
        MemberRequest q = queued.get();
        return q != null && q.id() == id;
    }

    @Override
    public LongAction busy() {
        return busy;
    }

    @Override
    public void wakeup() {}
}
