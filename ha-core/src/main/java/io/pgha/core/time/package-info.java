/**
 * <b>Public API.</b> Time, waits and threads behind one interface ({@code HaClock}), so the deterministic simulation
 * can replace all three. The JDK only.
 */
package io.pgha.core.time;
