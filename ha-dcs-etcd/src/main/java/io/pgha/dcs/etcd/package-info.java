/**
 * The Dcs port on etcd v3 (JSON gateway).
 *
 * <p>Not implemented yet: this module only reserves its place in the build. See the open issues.
 */
package io.pgha.dcs.etcd;
