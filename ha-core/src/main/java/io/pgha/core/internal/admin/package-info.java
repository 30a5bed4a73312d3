/**
 * <b>Internal</b> (not API). {@code ClusterAdmin}: the operator's verbs (switchover, failover, pause, config
 * changes) for every front end, returning an {@code AdminResult}.
 */
package io.pgha.core.internal.admin;
