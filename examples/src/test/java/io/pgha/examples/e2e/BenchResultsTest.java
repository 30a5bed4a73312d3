package io.pgha.examples.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgha.examples.e2e.BenchResults.Mark;
import io.pgha.examples.e2e.BenchResults.Repetition;
import io.pgha.examples.e2e.BenchResults.Stats;
import io.pgha.examples.e2e.BenchResults.WriterResult;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;

/** The failover benchmark's arithmetic and report writers, on synthetic repetitions (no cluster). */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class BenchResultsTest {

    /** Commits every 20 ms from -2 s to {@code endMs}, none strictly between gapFrom and gapTo. */
    private static List<Double> acks(double gapFrom, double gapTo, double endMs) {
        List<Double> out = new ArrayList<>();
        for (double t = -2000; t <= endMs; t += 20) {
            if (t <= gapFrom || t >= gapTo) {
                out.add(t);
            }
        }
        return out;
    }

    private static Repetition rep(int n, double gapTo, String note) {
        WriterResult a = new WriterResult("HaDataSource", BenchResults.largestGap(acks(0, gapTo, 9000), -2000, 9000),
                true, n, 0, 1, 500, List.of("08S02 x" + n), acks(0, gapTo, 9000));
        WriterResult b = new WriterResult("multi-host URL", BenchResults.largestGap(acks(0, 800, 9000), -2000, 9000),
                true, 0, 2, 0, 500, List.of(), acks(0, 800, 9000));
        return new Repetition("etcd", "kill9", "fast", false, n, "pg1", "pg2", gapTo - 100, -2000, 9000,
                List.of(new Mark(-1500, "key: pg1"), new Mark(gapTo - 100, "key: pg2 <&>")), List.of(a, b), note);
    }

    @Test
    void theLargestGapCountsTheWindowEndButNotItsStartAsACommit() {
        // The writer began 1.5 s into the window: that is no outage; its 0.5 s gap is.
        assertThat(BenchResults.largestGap(List.of(-500.0, 0.0, 500.0, 520.0), -2000, 600)).isCloseTo(500,
                within(1e-9));
        // The commit at 0 is the last before the gap; the next one is the first at or after 3000.
        assertThat(BenchResults.largestGap(acks(0, 3000, 9000), -2000, 9000)).isCloseTo(3000, within(1e-9));
        // A writer that never committed again: the gap runs to the window's end.
        assertThat(BenchResults.largestGap(acks(0, 1e9, 9000), -2000, 9000)).isCloseTo(9000, within(1e-9));
        // Nothing at all: the whole window.
        assertThat(BenchResults.largestGap(List.of(), -2000, 9000)).isCloseTo(11_000, within(1e-9));
    }

    @Test
    void statsAreMinMedianAndMax() {
        assertThat(Stats.of(List.of(3.0, 1.0, 2.0))).isEqualTo(new Stats(1, 2, 3));
        assertThat(Stats.of(List.of(4.0, 1.0, 2.0, 10.0))).isEqualTo(new Stats(1, 3, 10));
    }

    @Test
    void binsCountCommitsPer100Ms() {
        int[] bins = TimelineChart.bins(List.of(-2000.0, -1950.0, -1900.0, 0.0, 99.9, 100.0), -2000, 200);
        assertThat(bins).hasSize(22);
        assertThat(bins[0]).isEqualTo(2);
        assertThat(bins[1]).isEqualTo(1);
        assertThat(bins[20]).isEqualTo(2);
        assertThat(bins[21]).isEqualTo(1);
    }

    @Test
    void tableJsonCsvAndSvgAreWrittenAndWellFormed(@TempDir Path dir) throws Exception {
        List<Repetition> reps = List.of(rep(1, 1500, ""), rep(2, 4000, "slow \"one\""), rep(3, 2500, ""));
        List<Path> files = BenchResults.write(dir, Map.of("store", "etcd"), reps);

        assertThat(files).extracting(p -> p.getFileName().toString()).containsExactly("results.json",
                "results.csv", "table.md", "timeline-etcd-kill9-fast-sync-off.svg",
                "timeline-etcd-kill9-fast-sync-off-worst.svg");
        assertThat(Files.readString(dir.resolve("timeline-etcd-kill9-fast-sync-off-worst.svg")))
                .contains("repetition 2 (worst)").doesNotContain("repetition 1").doesNotContain("repetition 3");
        String table = Files.readString(dir.resolve("table.md"));
        // Outages 1.5, 2.5 and 4 s: min / median / max; exceptions 1, 2, 3.
        assertThat(table).contains("| kill9 | fast | off | HaDataSource | 3 | 1.50 / 2.50 / 4.00 | 1.40 / 2.40 / 3.90"
                + " | 1 / 2 / 3 | 0 / 0 / 0 | 1 / 1 / 1 |");
        assertThat(table).contains("| kill9 | fast | off | multi-host URL | 3 | 0.80 / 0.80 / 0.80 |");

        JsonNode json = new ObjectMapper().readTree(dir.resolve("results.json").toFile());
        assertThat(json.path("repetitions")).hasSize(3);
        assertThat(json.path("repetitions").get(1).path("writers").get(0).path("outageMs").asDouble())
                .isCloseTo(4000, within(1e-9));

        assertThat(BenchResults.read(dir.resolve("results.json")).repetitions()).isEqualTo(reps);

        List<String> csv = Files.readAllLines(dir.resolve("results.csv"));
        assertThat(csv).hasSize(1 + 6);
        assertThat(csv.get(3)).startsWith("etcd,kill9,fast,off,2,HaDataSource,4000.0,true,3900.0,2,0,1,500,pg1,pg2,")
                .endsWith(",\"slow \"\"one\"\"\"");

        String svg = Files.readString(dir.resolve("timeline-etcd-kill9-fast-sync-off.svg"));
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        Document doc = f.newDocumentBuilder().parse(new ByteArrayInputStream(svg.getBytes(StandardCharsets.UTF_8)));
        assertThat(doc.getDocumentElement().getLocalName()).isEqualTo("svg");
        // One panel per repetition, the worst (repetition 2, 4 s) first; two series each; the fault and one mark each.
        assertThat(doc.getElementsByTagName("g").getLength()).isEqualTo(3);
        assertThat(doc.getElementsByTagName("polyline").getLength()).isEqualTo(6);
        assertThat(doc.getElementsByTagName("g").item(0).getTextContent()).contains("repetition 2 (worst)")
                .contains("key: pg2 <&>");
        assertThat(svg).doesNotContain("NaN").doesNotContain("Infinity");
        // The old leader's key before the fault is where the watch started, not a change: no line for it.
        assertThat(svg).doesNotContain(">key: pg1<");
    }
}
