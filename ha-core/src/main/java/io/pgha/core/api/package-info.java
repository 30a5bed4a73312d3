/**
 * <b>Public API.</b> The member a Java service embeds: {@link io.pgha.core.api.HaCluster} and its builder. Depends on
 * every other package; nothing depends on it (docs/decisions/0008).
 */
package io.pgha.core.api;
