package io.pgha.examples.e2e;

import java.sql.Connection;
import java.sql.SQLException;

/**
 * A PostgreSQL server the test reaches straight over TCP as the superuser: a pgha agent's ({@link AgentProcess}) or a
 * Patroni member's ({@link PatroniMember}). {@link Sql} runs its queries on either.
 */
interface PgServer {

    Connection sql() throws SQLException;
}
