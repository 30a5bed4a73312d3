package io.pgha.examples.spring;

import java.util.Map;
import org.springframework.dao.TransientDataAccessException;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;

/**
 * {@code POST /rows} (body: the note, plain text) answers {@code {"id":..,"port":..}}; {@code GET /rows/{id}} the row
 * and the server that read it, or 404; {@code GET /rows/count} the count. A failover's transient errors (no leader
 * within {@code leader-wait}, a transaction cut off: ha-jdbc's translator makes them
 * {@link TransientDataAccessException}) answer 503 with {@code Retry-After}, so a client knows to try again.
 */
@RestController
public class RowsController {

    private final RowsService rows;

    public RowsController(RowsService rows) {
        this.rows = rows;
    }

    @PostMapping(path = "/rows", consumes = "text/plain")
    public RowsService.Written write(@RequestBody String note) {
        return rows.write(note);
    }

    @GetMapping("/rows/{id}")
    public ResponseEntity<RowsService.Read> read(@PathVariable("id") long id) {
        return ResponseEntity.of(rows.read(id));
    }

    @GetMapping("/rows/count")
    public RowsService.Count count() {
        return rows.count();
    }

    @ExceptionHandler(TransientDataAccessException.class)
    public ResponseEntity<Map<String, String>> transientFailure(TransientDataAccessException e) {
        return ResponseEntity.status(HttpStatus.SERVICE_UNAVAILABLE).header("Retry-After", "1")
                .body(Map.of("error", String.valueOf(e.getMostSpecificCause().getMessage())));
    }
}
