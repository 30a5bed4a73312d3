package io.pgha.core.internal.ha;

import io.pgha.core.cluster.LongAction;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator's requests for this member's PostgreSQL (restart, reinitialize, reload), waiting in the member's
 * {@link NodeMemory} for the HA loop to take them up between cycles; and how each ended. Only queues and reports:
 * the loop's {@code OperatorRequests} rule decides when a request may run, and its {@code ActionRunner} runs it.
 */
final class OperatorRequestQueue implements MemberOperations {

    private static final Logger LOG = LoggerFactory.getLogger(OperatorRequestQueue.class);

    private final MemoryCell memory;
    private final Runnable wakeup;
    private final String prefix;
    private final AtomicLong requestIds = new AtomicLong();

    /** @param wakeup runs the member's HA cycle soon, so a queued request does not wait out a whole loopWait */
    OperatorRequestQueue(MemoryCell memory, Runnable wakeup, String prefix) {
        this.memory = Objects.requireNonNull(memory, "memory");
        this.wakeup = Objects.requireNonNull(wakeup, "wakeup");
        this.prefix = Objects.requireNonNull(prefix, "prefix");
    }

    @Override
    public long newRequestId() {
        return requestIds.incrementAndGet();
    }

    @Override
    public Optional<String> submit(MemberRequest request) {
        AtomicReference<MemberRequest> before = new AtomicReference<>();
        memory.update(m -> {
            before.set(m.request());
            return m.request() == null ? m.withRequest(request) : m;
        });
        if (before.get() != null) {
            return Optional.of(describe(before.get()) + " already in progress");
        }
        LOG.info("{}{} requested by the operator", prefix, describe(request));
        wakeup.run();
        return Optional.empty();
    }

    private static String describe(MemberRequest r) {
        return r instanceof MemberRequest.Restart ? "restart" : r instanceof MemberRequest.Reinitialize
                ? "reinitialize" : "reload";
    }

    @Override
    public boolean schedule(MemberRequest.Restart restart) {
        AtomicReference<MemberRequest.Restart> before = new AtomicReference<>();
        memory.update(m -> {
            before.set(m.scheduledRestart());
            return m.scheduledRestart() == null ? m.withScheduledRestart(restart) : m;
        });
        if (before.get() != null) {
            return false;
        }
        LOG.info("{}restart scheduled for {} by the operator", prefix, restart.schedule());
        wakeup.run();
        return true;
    }

    @Override
    public boolean cancelScheduledRestart() {
        AtomicReference<MemberRequest.Restart> before = new AtomicReference<>();
        memory.update(m -> {
            before.set(m.scheduledRestart());
            return m.scheduledRestart() == null ? m : m.withScheduledRestart(null);
        });
        if (before.get() == null) {
            return false;
        }
        LOG.info("{}the restart scheduled for {} was cancelled by the operator", prefix, before.get().schedule());
        wakeup.run();
        return true;
    }

    @Override
    public Optional<MemberRequest.Restart> scheduledRestart() {
        return Optional.ofNullable(memory.get().scheduledRestart());
    }

    @Override
    public Optional<MemberRequest.Outcome> outcome(long id) {
        MemberRequest.Outcome o = memory.get().requestOutcome();
        return o != null && o.id() == id ? Optional.of(o) : Optional.empty();
    }

    @Override
    public boolean withdraw(long id) {
        AtomicBoolean taken = new AtomicBoolean();
        memory.update(m -> {
            boolean mine = m.request() != null && m.request().id() == id;
            taken.set(mine);
            return mine ? m.withRequest(null) : m;
        });
        return taken.get();
    }

    @Override
    public boolean waiting(long id) {
        NodeMemory m = memory.get();
        return m.request() != null && m.request().id() == id
                || m.scheduledRestart() != null && m.scheduledRestart().id() == id;
    }

    @Override
    public void wakeup() {
        wakeup.run();
    }

    @Override
    public LongAction busy() {
        return memory.get().busy();
    }
}
