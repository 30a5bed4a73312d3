/**
 * A routing DataSource that always resolves to the current leader.
 *
 * <p>Not implemented yet: this module only reserves its place in the build. See the open issues.
 */
package io.pgha.jdbc;
