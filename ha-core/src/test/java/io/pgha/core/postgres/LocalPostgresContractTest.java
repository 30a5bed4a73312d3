package io.pgha.core.postgres;

import io.pgha.core.spi.Postgres;
import io.pgha.core.testkit.PostgresContractTest;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.Tag;

/** The Postgres contract against real PostgreSQL servers. */
@Tag("postgres")
class LocalPostgresContractTest extends PostgresContractTest {

    private PgTestEnv env;

    @Override
    protected Instance newInstance(String name) throws Exception {
        if (env == null) {
            env = new PgTestEnv();
        }
        LocalPostgres p = env.node(name);
        return new Instance(p, PgTestEnv.upstream(p));
    }

    @Override
    protected void write(Postgres p, String marker) throws Exception {
        Markers.write((LocalPostgres) p, marker);
    }

    @Override
    protected boolean contains(Postgres p, String marker) throws Exception {
        return Markers.contains((LocalPostgres) p, marker);
    }

    @Override
    protected void releaseAll() {
        if (env != null) {
            env.close();
            env = null;
        }
    }

    /** Markers are rows of one table, created on first write. */
    static final class Markers {
        private Markers() {}

        static void write(LocalPostgres p, String marker) throws SQLException {
            try (Connection c = PgTestEnv.sql(p); Statement st = c.createStatement()) {
                st.execute("CREATE TABLE IF NOT EXISTS pgha_marker (m text PRIMARY KEY)");
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO pgha_marker VALUES (?)")) {
                    ps.setString(1, marker);
                    ps.executeUpdate();
                }
            }
        }

        static boolean contains(LocalPostgres p, String marker) throws SQLException {
            try (Connection c = PgTestEnv.sql(p);
                    PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM pgha_marker WHERE m = ?")) {
                ps.setString(1, marker);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return rs.getInt(1) > 0;
                }
            } catch (SQLException e) {
                if ("42P01".equals(e.getSQLState())) {
                    return false;
                }
                throw e;
            }
        }
    }
}
