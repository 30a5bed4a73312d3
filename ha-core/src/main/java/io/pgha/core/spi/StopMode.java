package io.pgha.core.spi;

/** PostgreSQL's shutdown modes ({@code pg_ctl stop -m}). */
public enum StopMode {
    /** Wait for clients to disconnect. */
    SMART,
    /** Roll back and disconnect clients, write a shutdown checkpoint: the normal clean stop. */
    FAST,
    /** Quit at once without a checkpoint; the next start runs crash recovery. Used to fence. */
    IMMEDIATE
}
