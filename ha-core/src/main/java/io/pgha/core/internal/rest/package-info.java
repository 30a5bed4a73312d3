/**
 * <b>Internal</b> (not API). The Patroni-compatible REST API and the HTTP client members use to ask each other; it
 * serves {@code NodeStatus} and maps {@code AdminResult}s to Patroni's status codes.
 */
package io.pgha.core.internal.rest;
