package io.pgha.dcs.zookeeper;

import java.util.ArrayList;
import java.util.List;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException.Code;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ACLs of the znodes a member creates (docs/decisions 0205). Without digest auth every znode is open, as with
 * Patroni's default. With it, keys, the scope node and {@code members/} belong to the credentials (plus world READ when
 * {@code worldReadable}); the namespace nodes above the scope also let anyone create there (never delete), since other
 * clusters, possibly with other credentials, create their scope nodes there.
 */
final class ZooKeeperAcls {

    private static final Logger LOG = LoggerFactory.getLogger(ZooKeeperAcls.class);

    private final ZooKeeperSettings settings;
    private final String scopePath;
    private final List<ACL> keyAcl;
    private final List<ACL> namespaceAcl;

    ZooKeeperAcls(ZooKeeperSettings settings, String scopePath) {
        this.settings = settings;
        this.scopePath = scopePath;
        this.keyAcl = keyAcl(settings);
        this.namespaceAcl = namespaceAcl(settings);
    }

    /** The ACL a znode created at {@code path} gets. */
    List<ACL> forPath(String path) {
        return scopePath.startsWith(path + "/") ? namespaceAcl : keyAcl;
    }

    /**
     * With digest auth the scope node must not let anyone else write: ZooKeeper checks deletes against the parent's
     * ACL, so an open scope node lets any client delete the leader key. Nodes we create are safe; warn about one
     * created earlier by someone else. Asked in the background; the answer is only logged.
     */
    void warnIfTheScopeIsOpen(CuratorFramework client, String log) {
        if (settings.auth() == null) {
            return;
        }
        try {
            client.getACL().inBackground((c, ev) -> {
                if (Code.get(ev.getResultCode()) != Code.OK || ev.getACLList() == null) {
                    return;
                }
                for (ACL a : ev.getACLList()) {
                    boolean anyone = a.getId().equals(ZooDefs.Ids.ANYONE_ID_UNSAFE);
                    if (anyone && (a.getPerms() & ~ZooDefs.Perms.READ) != 0) {
                        LOG.warn("{}{} lets unauthenticated clients change it (ACL {}): they can create or delete the "
                                + "leader key. It was created without these credentials; restrict it with setAcl.",
                                log, scopePath, ev.getACLList());
                        return;
                    }
                }
            }).forPath(scopePath);
        } catch (Exception e) {
            LOG.debug("{}could not check the ACL of {}: {}", log, scopePath, e.toString());
        }
    }

    private static List<ACL> keyAcl(ZooKeeperSettings s) {
        if (s.auth() == null) {
            return ZooDefs.Ids.OPEN_ACL_UNSAFE;
        }
        List<ACL> acl = new ArrayList<>();
        acl.add(new ACL(ZooDefs.Perms.ALL, new Id("digest", s.auth().aclId())));
        if (s.worldReadable()) {
            acl.add(new ACL(ZooDefs.Perms.READ, ZooDefs.Ids.ANYONE_ID_UNSAFE));
        }
        return List.copyOf(acl);
    }

    private static List<ACL> namespaceAcl(ZooKeeperSettings s) {
        if (s.auth() == null) {
            return ZooDefs.Ids.OPEN_ACL_UNSAFE;
        }
        return List.of(new ACL(ZooDefs.Perms.ALL, new Id("digest", s.auth().aclId())),
                new ACL(ZooDefs.Perms.READ | ZooDefs.Perms.CREATE, ZooDefs.Ids.ANYONE_ID_UNSAFE));
    }
}
