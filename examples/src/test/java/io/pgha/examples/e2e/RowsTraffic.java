package io.pgha.examples.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * A client of the Spring Boot example service ({@code io.pgha.examples.spring}): one request after another on its own
 * thread, a {@code POST /rows} every {@code pause}, each followed by a {@code GET /rows/{id}} of a row acknowledged at
 * least {@link #READ_AGE} earlier (a replica may not have replayed a newer one yet). Every answer is recorded, a
 * connection failure or timeout as status -1. It never gives up before it is closed or {@code maxRunTime} has passed.
 */
final class RowsTraffic implements AutoCloseable {

    /** A GET asks only for rows at least this old. */
    static final Duration READ_AGE = Duration.ofSeconds(1);

    /** Longer than the service's longest wait for a leader (its pgha.datasource.leader-wait, 30 s by default). */
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(45);

    private static final ObjectMapper JSON = new ObjectMapper();

    /** One request: what was asked, its HTTP status (-1: no answer), and what the service said about the row. */
    record Answer(boolean write, long startedNanos, long endedNanos, int status, long id, int port,
            boolean inRecovery, String body) {
        boolean ok() {
            return status == 200;
        }

        boolean serverError() {
            return status < 0 || status >= 500;
        }
    }

    private final URI base;
    private final Duration pause;
    private final long deadlineNanos;
    private final Thread thread;
    private final List<Answer> answers = new ArrayList<>();
    private volatile boolean stopped;

    RowsTraffic(URI base, Duration pause, Duration maxRunTime) {
        this.base = base;
        this.pause = pause;
        this.deadlineNanos = System.nanoTime() + maxRunTime.toNanos();
        this.thread = new Thread(this::loop, "e2e-rows-traffic");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    private void loop() {
        long n = 0;
        while (!stopped && System.nanoTime() < deadlineNanos) {
            record(send(true, HttpRequest.newBuilder(base.resolve("/rows")).header("Content-Type", "text/plain")
                    .POST(HttpRequest.BodyPublishers.ofString("row " + (++n))), -1));
            long readable = System.nanoTime() - READ_AGE.toNanos();
            Optional<Answer> old = last(a -> a.write() && a.ok() && a.endedNanos() - readable < 0);
            if (old.isPresent()) {
                long id = old.get().id();
                record(send(false, HttpRequest.newBuilder(base.resolve("/rows/" + id)).GET(), id));
            }
            try {
                Thread.sleep(pause.toMillis());
            } catch (InterruptedException e) {
                break;
            }
        }
    }

    private Answer send(boolean write, HttpRequest.Builder b, long id) {
        long started = System.nanoTime();
        try {
            HttpResponse<String> r = E2eKit.HTTP.send(b.timeout(REQUEST_TIMEOUT).build(),
                    HttpResponse.BodyHandlers.ofString());
            long ended = System.nanoTime();
            if (r.statusCode() != 200) {
                return new Answer(write, started, ended, r.statusCode(), id, -1, false, r.body());
            }
            JsonNode j = JSON.readTree(r.body());
            return new Answer(write, started, ended, 200, j.path("id").asLong(-1), j.path("port").asInt(-1),
                    j.path("inRecovery").asBoolean(false), r.body());
        } catch (IOException e) {
            return new Answer(write, started, System.nanoTime(), -1, id, -1, false, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stopped = true;
            return new Answer(write, started, System.nanoTime(), -1, id, -1, false, "interrupted");
        }
    }

    private void record(Answer a) {
        synchronized (answers) {
            answers.add(a);
        }
    }

    List<Answer> answers() {
        synchronized (answers) {
            return List.copyOf(answers);
        }
    }

    /** The latest answer that matches. */
    Optional<Answer> last(Predicate<Answer> p) {
        synchronized (answers) {
            for (int i = answers.size() - 1; i >= 0; i--) {
                if (p.test(answers.get(i))) {
                    return Optional.of(answers.get(i));
                }
            }
            return Optional.empty();
        }
    }

    /** The first answer that matches. */
    Optional<Answer> first(Predicate<Answer> p) {
        return answers().stream().filter(p).findFirst();
    }

    long count(Predicate<Answer> p) {
        return answers().stream().filter(p).count();
    }

    /** Stops after the current request (at most {@link #REQUEST_TIMEOUT}). */
    @Override
    public void close() {
        stopped = true;
        try {
            thread.join(REQUEST_TIMEOUT.plusSeconds(5).toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            thread.interrupt();
        }
    }
}
