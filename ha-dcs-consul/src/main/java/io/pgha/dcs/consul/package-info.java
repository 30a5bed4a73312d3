/**
 * The Dcs port on Consul (KV and sessions).
 *
 * <p>Not implemented yet: this module only reserves its place in the build. See the open issues.
 */
package io.pgha.dcs.consul;
