package io.pgha.core.internal.rest;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Parses a Prometheus text exposition with the Prometheus project's own Python client ({@code prometheus_client.parser},
 * Debian's {@code python3-prometheus-client}, which {@code .ci/run} installs): no Java library parses the text format,
 * and a parser of our own would share our misreadings (docs/decisions 0508).
 *
 * <p>The parser reports families as Prometheus' client models them: a counter family is named without its
 * {@code _total} suffix and its samples carry it.
 */
final class PrometheusTextParser {

    private static final String PYTHON = "/usr/bin/python3";
    private static final String SCRIPT = String.join("\n",
            "import json, sys",
            "from prometheus_client.parser import text_string_to_metric_families",
            "out = []",
            "for f in text_string_to_metric_families(sys.stdin.read()):",
            "    out.append({'name': f.name, 'type': f.type, 'help': f.documentation,",
            "                'samples': [{'name': s.name, 'labels': s.labels, 'value': s.value} for s in f.samples]})",
            "print(json.dumps(out))");

    private PrometheusTextParser() {}

    /** Family name → {@code {name, type, help, samples: [{name, labels, value}]}}; fails on text it rejects. */
    static Map<String, JsonNode> parse(String text) {
        Process p;
        try {
            p = new ProcessBuilder(PYTHON, "-c", SCRIPT).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + PYTHON + " (the metrics test parses with Debian's "
                    + "python3-prometheus-client; .ci/run installs it)", e);
        }
        try {
            try (OutputStream in = p.getOutputStream()) {
                in.write(text.getBytes(StandardCharsets.UTF_8));
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the Prometheus parser did not finish within 60 s");
            }
            if (p.exitValue() != 0) {
                throw new AssertionError("prometheus_client.parser rejected the exposition (exit " + p.exitValue()
                        + "; is python3-prometheus-client installed?):\n" + out + "\n--- text ---\n" + text);
            }
            Map<String, JsonNode> families = new LinkedHashMap<>();
            for (JsonNode f : RestJson.MAPPER.readTree(out)) {
                if (families.put(f.get("name").asText(), f) != null) {
                    throw new AssertionError("family " + f.get("name") + " appears twice:\n" + text);
                }
            }
            return families;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } finally {
            p.destroyForcibly();
        }
    }
}
