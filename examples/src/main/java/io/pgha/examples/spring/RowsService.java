package io.pgha.examples.spring;

import java.util.Optional;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

/**
 * The rows, in one table. Writes are read-write transactions (the DataSource gives them the leader); reads are
 * read-only ones, which the DataSource sends to a replica within {@code pgha.datasource.max-lag}. Every answer says
 * which server gave it ({@code inet_server_port()}, {@code pg_is_in_recovery()}), so a client can see the routing.
 */
@Service
public class RowsService {

    static final String TABLE = "pgha_example_rows";

    /** A row written: its id, and the server that committed it. */
    public record Written(long id, int port) {}

    /** A row read, and the server that read it. */
    public record Read(long id, String note, int port, boolean inRecovery) {}

    /** How many rows there are, as the server that counted them sees it. */
    public record Count(long count, int port, boolean inRecovery) {}

    private final JdbcTemplate jdbc;

    public RowsService(JdbcTemplate jdbc) {
        this.jdbc = jdbc;
    }

    /** Creates the table if it is missing (a read-write transaction: on the leader, waiting for one if needed). */
    @Transactional
    public void createTable() {
        jdbc.execute("CREATE TABLE IF NOT EXISTS " + TABLE + " (id bigserial PRIMARY KEY, note text NOT NULL,"
                + " written_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
                + " written_by_port int NOT NULL DEFAULT inet_server_port())");
    }

    @Transactional
    public Written write(String note) {
        return jdbc.queryForObject("INSERT INTO " + TABLE + " (note) VALUES (?) RETURNING id, inet_server_port()",
                (rs, n) -> new Written(rs.getLong(1), rs.getInt(2)), note);
    }

    @Transactional(readOnly = true)
    public Optional<Read> read(long id) {
        return jdbc.query("SELECT id, note, inet_server_port(), pg_is_in_recovery() FROM " + TABLE + " WHERE id = ?",
                (rs, n) -> new Read(rs.getLong(1), rs.getString(2), rs.getInt(3), rs.getBoolean(4)), id)
                .stream().findFirst();
    }

    @Transactional(readOnly = true)
    public Count count() {
        return jdbc.queryForObject("SELECT count(*), inet_server_port(), pg_is_in_recovery() FROM " + TABLE,
                (rs, n) -> new Count(rs.getLong(1), rs.getInt(2), rs.getBoolean(3)));
    }
}
