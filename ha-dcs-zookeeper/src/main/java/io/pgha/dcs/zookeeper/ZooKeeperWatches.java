package io.pgha.dcs.zookeeper;

import static io.pgha.dcs.zookeeper.ZooKeeperConnection.code;

import io.pgha.core.spi.ChangeDispatcher;
import java.util.function.Consumer;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.KeeperException.Code;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The leader and member watches of one {@link ZooKeeperDcs}: a one-shot exists-watch on the leader key, re-armed after
 * each event, and a persistent recursive watch on {@code members/}. Both are armed again on each new or resumed
 * session ({@link #beforeUse}), before the member's calls can use it. Their callbacks run on a daemon thread per
 * watch ({@link ChangeDispatcher}). They only read and watch; nothing here writes.
 */
final class ZooKeeperWatches {

    private static final Logger LOG = LoggerFactory.getLogger(ZooKeeperWatches.class);

    /** Runs an action with the current client if its session is usable ({@link ZooKeeperConnection#whenUsable}). */
    @FunctionalInterface
    interface Sessions {
        boolean whenUsable(Consumer<CuratorFramework> action);
    }

    private final String leaderPath;
    private final String membersPath;
    private final String log;
    private final Sessions sessions;
    private final ChangeDispatcher leaderChanges;
    private final Watcher leaderWatcher = this::onLeaderEvent;
    private final ChangeDispatcher memberChanges;
    private final Watcher membersWatcher = this::onMembersEvent;

    /**
     * @param threads  the prefix of the callback threads' names
     * @param sessions the member's connection; it is made after this (its listener arms the watches), so it is only
     *                 used once a callback was added
     */
    ZooKeeperWatches(String leaderPath, String membersPath, String threads, String log, Sessions sessions) {
        this.leaderPath = leaderPath;
        this.membersPath = membersPath;
        this.log = log;
        this.sessions = sessions;
        this.leaderChanges = new ChangeDispatcher(threads + "-callback", log, "leader watch");
        this.memberChanges = new ChangeDispatcher(threads + "-members-callback", log, "member watch");
    }

    void watchLeader(Runnable onChange) {
        leaderChanges.add(onChange);
        // Armed now if connected; otherwise when the session becomes usable (before any call can use it).
        sessions.whenUsable(this::armLeaderWatch);
    }

    void watchMembers(Runnable onChange) {
        memberChanges.add(onChange);
        sessions.whenUsable(this::armMembersWatch);
    }

    /** A session is about to become usable ({@link ZooKeeperConnection.Listener#beforeUse}): arm what is watched. */
    void beforeUse(CuratorFramework client) {
        if (leaderChanges.hasCallbacks()) {
            armLeaderWatch(client);
        }
        if (memberChanges.hasCallbacks()) {
            armMembersWatch(client);
        }
    }

    /** Something may have changed unseen (a reconnect, a lost or replaced session): wake every callback. */
    void mayHaveChanged() {
        leaderChanges.changed();
        memberChanges.changed();
    }

    /** Stops the callback threads, the leader watch's first. */
    void close() {
        leaderChanges.close();
        memberChanges.close();
    }

    // ------------------------------------------------------------------------------------------------ leader watch

    private void onLeaderEvent(WatchedEvent e) {
        if (e.getType() == Watcher.Event.EventType.None) {
            // Connection events reach every watcher; the state listener handles them.
            return;
        }
        // The watch fired once and is gone. The callbacks are told only when the new one is in place, so the read
        // they trigger also sees a change made between this event and the new watch. Without a usable session there
        // is no new watch now (the next session arms it and wakes the callbacks): tell them at once.
        if (!sessions.whenUsable(client -> armLeaderWatch(client, true))) {
            leaderChanges.changed();
        }
    }

    private void armLeaderWatch(CuratorFramework client) {
        armLeaderWatch(client, false);
    }

    /**
     * A one-shot exists-watch on the leader key, re-armed after each event and on each new or resumed session.
     * {@code report}: wake the callbacks once the server has answered (the watch is then registered).
     */
    private void armLeaderWatch(CuratorFramework client, boolean report) {
        if (!leaderChanges.hasCallbacks()) {
            return;
        }
        try {
            client.checkExists().usingWatcher(leaderWatcher).inBackground((c, ev) -> {
                Code code = code(ev);
                if (code != Code.OK && code != Code.NONODE) {
                    LOG.debug("{}arming the leader watch failed ({}); it is re-armed on reconnect", log, code);
                }
                if (report) {
                    leaderChanges.changed();
                }
            }).forPath(leaderPath);
        } catch (Exception ex) {
            LOG.debug("{}arming the leader watch failed ({}); it is re-armed on reconnect", log, ex.toString());
            if (report) {
                leaderChanges.changed();
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ member watch

    private void onMembersEvent(WatchedEvent e) {
        if (e.getType() == Watcher.Event.EventType.None) {
            // Connection events reach every watcher; the state listener handles them.
            return;
        }
        // A persistent watch stays in place: nothing to re-arm.
        memberChanges.changed();
    }

    /**
     * Adds the watch on this session; the callbacks are woken once the server answered, since a key may have changed
     * while there was none (a new session, or the first arming). Adding it again on a session that has it (a
     * reconnect) changes nothing on the server.
     */
    private void armMembersWatch(CuratorFramework client) {
        if (!memberChanges.hasCallbacks()) {
            return;
        }
        try {
            client.watchers().add().withMode(AddWatchMode.PERSISTENT_RECURSIVE).inBackground((c, ev) -> {
                Code code = code(ev);
                if (code != Code.OK) {
                    LOG.debug("{}adding the member watch failed ({}); it is added again on reconnect", log, code);
                }
                memberChanges.changed();
            }).usingWatcher(membersWatcher).forPath(membersPath);
        } catch (Exception ex) {
            LOG.debug("{}adding the member watch failed ({}); it is added again on reconnect", log, ex.toString());
            memberChanges.changed();
        }
    }
}
