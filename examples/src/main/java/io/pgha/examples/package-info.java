/**
 * Runnable programs: the standalone agent ({@code agent.AgentMain}), the demo, the failover benchmark and
 * the Spring Boot example service ({@code spring.RowsApplication}).
 */
package io.pgha.examples;
