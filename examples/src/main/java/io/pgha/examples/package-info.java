/**
 * Runnable programs: the demo, the standalone agent and the failover benchmark.
 *
 * <p>Not implemented yet: this module only reserves its place in the build. See the open issues.
 */
package io.pgha.examples;
