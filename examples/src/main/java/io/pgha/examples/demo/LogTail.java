package io.pgha.examples.demo;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code --verbose}: copies new lines of the agents' logs to the output, each prefixed with its member's name. */
final class LogTail implements AutoCloseable {

    private final Map<String, Path> logs = new LinkedHashMap<>();
    private final Map<String, Long> offsets = new LinkedHashMap<>();
    private final Timeline timeline;
    private final Thread thread;
    private volatile boolean closed;

    LogTail(List<MemberProcess> members, Timeline timeline) {
        members.forEach(m -> {
            logs.put(m.name, m.log);
            offsets.put(m.name, 0L);
        });
        this.timeline = timeline;
        thread = new Thread(this::run, "pgha-demo-logtail");
        thread.setDaemon(true);
        thread.start();
    }

    private void run() {
        while (!closed) {
            copyNewLines();
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                break;
            }
        }
        copyNewLines();
    }

    private void copyNewLines() {
        logs.forEach((name, log) -> {
            try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "r")) {
                long from = offsets.get(name);
                long len = f.length();
                if (len <= from) {
                    return;
                }
                byte[] b = new byte[(int) Math.min(len - from, 1 << 20)];
                f.seek(from);
                f.readFully(b);
                String text = new String(b, StandardCharsets.UTF_8);
                int end = text.lastIndexOf('\n');
                if (end < 0) {
                    return; // wait for the line to be complete
                }
                offsets.put(name, from + text.substring(0, end + 1).getBytes(StandardCharsets.UTF_8).length);
                text.substring(0, end).lines().forEach(l -> timeline.line("        [" + name + "] " + l));
            } catch (IOException e) {
                // not created yet, or already removed
            }
        });
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        try {
            thread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
