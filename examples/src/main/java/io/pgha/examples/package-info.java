/**
 * Runnable programs: the standalone agent ({@code agent.AgentMain}), the demo and the failover benchmark.
 */
package io.pgha.examples;
