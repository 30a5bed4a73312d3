package io.pgha.core.internal.ha;

import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;

/** The member's {@link NodeMemory}, shared by the loop, action and REST threads: read whole, changed atomically. */
final class MemoryCell {

    private final AtomicReference<NodeMemory> memory = new AtomicReference<>(NodeMemory.INITIAL);

    NodeMemory get() {
        return memory.get();
    }

    void update(UnaryOperator<NodeMemory> f) {
        memory.updateAndGet(f);
    }
}
