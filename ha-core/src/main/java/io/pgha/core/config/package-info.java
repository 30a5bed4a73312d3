/**
 * <b>Public API.</b> Settings and small value types ({@code HaSettings}, {@code PostgresSettings}, {@code RestSettings},
 * {@code DataSize}, {@code Tags}, ...), validated when built and never clamped. The JDK only; the bottom layer.
 */
package io.pgha.core.config;
