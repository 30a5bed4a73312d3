package io.pgha.core.internal.ha;

import io.pgha.core.cluster.LongAction;
import java.util.Optional;

/**
 * Hands an operator's request for this member's PostgreSQL to its HA loop ({@link HaLoop#operations()}) and reads
 * how it ended. The loop carries requests out; this only queues and reports.
 */
public interface MemberOperations {

    /** A number no earlier request of this member had. */
    long newRequestId();

    /** Queues a request to carry out at once; the refusal when another one still waits. */
    Optional<String> submit(MemberRequest request);

    /** Records a scheduled restart; false when one is already scheduled (one at a time, as in Patroni). */
    boolean schedule(MemberRequest.Restart restart);

    /** Removes the scheduled restart; false when none was scheduled. */
    boolean cancelScheduledRestart();

    /** The restart scheduled on this member, if any. */
    Optional<MemberRequest.Restart> scheduledRestart();

    /** How request {@code id} ended, once it has. */
    Optional<MemberRequest.Outcome> outcome(long id);

    /** Takes request {@code id} back if it still waits; false when the loop already took it up (or it is gone). */
    boolean withdraw(long id);

    /** Request {@code id} still waits to be taken up (queued, or scheduled). */
    boolean waiting(long id);

    /** The long action in flight, or null. */
    LongAction busy();

    /** Runs the HA cycle soon. */
    void wakeup();

    /** Without an HA loop to carry them out: every request is refused. */
    MemberOperations NONE = new MemberOperations() {
        @Override
        public long newRequestId() {
            return 0;
        }

        @Override
        public Optional<String> submit(MemberRequest request) {
            return Optional.of("this member has no HA loop to carry it out");
        }

        @Override
        public boolean schedule(MemberRequest.Restart restart) {
            return false;
        }

        @Override
        public boolean cancelScheduledRestart() {
            return false;
        }

        @Override
        public Optional<MemberRequest.Restart> scheduledRestart() {
            return Optional.empty();
        }

        @Override
        public Optional<MemberRequest.Outcome> outcome(long id) {
            return Optional.empty();
        }

        @Override
        public boolean withdraw(long id) {
            return false;
        }

        @Override
        public boolean waiting(long id) {
            return false;
        }

        @Override
        public LongAction busy() {
            return null;
        }

        @Override
        public void wakeup() {}
    };
}
