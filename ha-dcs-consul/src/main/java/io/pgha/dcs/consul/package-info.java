/**
 * The Dcs port on Consul's KV store and sessions, over the JDK HttpClient:
 * {@link io.pgha.dcs.consul.ConsulDcs#connect(String)}.
 *
 * <p>Settings, the minimum ttl (20 s with Consul's default {@code session_ttl_min}) and how the adapter was verified
 * are in {@code docs/consul-settings.md}; the design choices (HTTP client, session TTL = ttl/2 and the lease
 * guarantee, lock delay and health checks, the transaction that creates the leader key, the emulator) in
 * {@code docs/decisions/040x}.
 */
package io.pgha.dcs.consul;
