package io.pgha.core.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.cluster.Lsn;
import io.pgha.core.config.HostPort;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ConfTextTest {

    @Test
    void autoConfRoundTripsQuotesAndBackslashes() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("primary_conninfo", "host=h port=1 passfile='/a b/p\\q' application_name=it's");
        m.put("synchronous_standby_names", "");
        String text = ConfText.formatConf(m);
        assertThat(text).startsWith(ConfText.AUTO_CONF_HEADER);
        assertThat(ConfText.parseConf(text)).isEqualTo(m);
        assertThat(ConfText.parseConf("# c\nwork_mem = 4MB # trailing\nFoo='x'''\n"))
                .containsEntry("work_mem", "4MB").containsEntry("foo", "x'");
    }

    @Test
    void conninfoValuesAreQuotedAndParsedBack() {
        String conninfo = "host=" + ConfText.conninfoValue("db 1") + " port=5433 passfile="
                + ConfText.conninfoValue("/x/it's\\here") + " application_name=" + ConfText.conninfoValue("n1");
        assertThat(ConfText.conninfoGet(conninfo, "host")).isEqualTo("db 1");
        assertThat(ConfText.conninfoGet(conninfo, "passfile")).isEqualTo("/x/it's\\here");
        assertThat(ConfText.conninfoGet(conninfo, "application_name")).isEqualTo("n1");
        assertThat(ConfText.conninfoGet(conninfo, "user")).isNull();
        assertThat(ConfText.upstreamOf("host=10.0.0.2 port=6432 user=r")).isEqualTo(new HostPort("10.0.0.2", 6432));
        assertThat(ConfText.upstreamOf("")).isNull();
        assertThat(ConfText.upstreamOf("host=10.0.0.2 user=r")).isEqualTo(new HostPort("10.0.0.2", 5432));
    }

    @Test
    void passfileAndSqlEscaping() {
        assertThat(ConfText.passfileField("a:b\\c")).isEqualTo("a\\:b\\\\c");
        assertThat(ConfText.sqlQuote("it's")).isEqualTo("'it''s'");
        assertThat(ConfText.sqlIdent("we\"ird")).isEqualTo("\"we\"\"ird\"");
    }

    @Test
    void controlDataParses() {
        ControlData cd = ControlData.parse("pg_control version number:            1300\n"
                + "Database system identifier:           7441234567890123456\n"
                + "Database cluster state:               shut down in recovery\n"
                + "Latest checkpoint location:           0/2000060\n"
                + "Latest checkpoint's TimeLineID:       2\n"
                + "Minimum recovery ending location:     0/3000100\n"
                + "Min recovery ending loc's timeline:   3\n"
                + "wal_log_hints setting:                on\n"
                + "Bytes per WAL segment:                16777216\n"
                + "Data page checksum version:           1\n");
        assertThat(cd.inRecovery()).isTrue();
        assertThat(cd.cleanlyShutDown()).isTrue();
        assertThat(cd.timeline()).isEqualTo(3);
        assertThat(cd.systemId()).isEqualTo("7441234567890123456");
        assertThat(cd.dataChecksums()).isTrue();
        assertThat(cd.walLogHints()).isTrue();
        assertThat(ControlData.parse("Database cluster state:               in production\n").cleanlyShutDown())
                .isFalse();
    }

    @Test
    void walSegmentFileNamesFollowPostgresForEverySegmentSize() {
        ControlData sixteenMiB = ControlData.parse("Database cluster state:  shut down\n"
                + "Bytes per WAL segment:    16777216\n");
        assertThat(sixteenMiB.walSegmentFile(1, Lsn.parse("0/3000060"))).isEqualTo("000000010000000000000003");
        assertThat(sixteenMiB.walSegmentFile(2, Lsn.parse("0/5000000"))).isEqualTo("000000020000000000000005");
        assertThat(sixteenMiB.walSegmentFile(0x1A, Lsn.parse("2/FF000028"))).isEqualTo("0000001A00000002000000FF");
        ControlData oneGiB = ControlData.parse("Database cluster state:  shut down\n"
                + "Bytes per WAL segment:    1073741824\n");
        assertThat(oneGiB.walSegmentFile(1, Lsn.parse("1/C0000010"))).isEqualTo("000000010000000100000003");
        assertThatThrownBy(() -> ControlData.parse("Database cluster state:  shut down\n")
                .walSegmentFile(1, Lsn.parse("0/1"))).hasMessageContaining("Bytes per WAL segment");
    }
}
