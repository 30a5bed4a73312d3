package io.pgha.examples.spring;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/**
 * The example service. Everything about the cluster comes from properties, for example
 * {@code --pgha.datasource.scope=demo --pgha.datasource.dcs.type=zookeeper --pgha.datasource.dcs.hosts=...}: the
 * {@code DataSource} is ha-jdbc's {@code HaDataSource}, and Boot's JdbcTemplate and transaction manager sit on it.
 */
@SpringBootApplication
public class RowsApplication {

    public static void main(String[] args) {
        SpringApplication.run(RowsApplication.class, args);
    }
}
