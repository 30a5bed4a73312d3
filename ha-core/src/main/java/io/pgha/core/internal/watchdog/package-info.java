/**
 * <b>Internal</b> (not API). {@code DeviceWatchdog}: the Linux watchdog device behind the HA loop's {@code Watchdog}
 * port, kept apart from the decision core because it does file and sysfs I/O on this machine.
 */
package io.pgha.core.internal.watchdog;
