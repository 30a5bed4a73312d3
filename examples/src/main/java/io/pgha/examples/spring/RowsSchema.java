package io.pgha.examples.spring;

import org.springframework.boot.ApplicationArguments;
import org.springframework.boot.ApplicationRunner;
import org.springframework.stereotype.Component;

/** Creates the example's table once the application has started (on the leader: it is DDL). */
@Component
class RowsSchema implements ApplicationRunner {

    private final RowsService rows;

    RowsSchema(RowsService rows) {
        this.rows = rows;
    }

    @Override
    public void run(ApplicationArguments args) {
        rows.createTable();
    }
}
