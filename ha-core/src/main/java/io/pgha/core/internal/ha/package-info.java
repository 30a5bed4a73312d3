/**
 * <b>Internal</b> (not API; may change without notice). The HA loop: the pure decision core ({@code HaDecider} and
 * its rules) and the loop that gathers, decides, acts and publishes {@code NodeStatus}, with the lease guard (rule S1)
 * in a class of its own.
 */
package io.pgha.core.internal.ha;
