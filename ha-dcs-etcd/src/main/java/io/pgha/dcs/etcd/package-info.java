/**
 * The Dcs port on etcd v3 through its JSON gateway: {@link io.pgha.dcs.etcd.EtcdDcs#connect(String...)}.
 *
 * <p>Settings, auth and https are described in {@code docs/etcd-settings.md}; the design choices (gateway over jetcd,
 * lease keepalive and guarantee, watch and compaction, leases across etcd restarts) in {@code docs/decisions/03xx}.
 */
package io.pgha.dcs.etcd;
