package io.pgha.core.internal.ha;

/** Test stub: an {@link ActionRunner.Events} that ignores every event (for tests of a runner on its own). */
final class QuietEvents implements ActionRunner.Events {

    @Override
    public void promoted() {}

    @Override
    public void fenced(String why) {}

    @Override
    public void longActionEnded() {}
}
