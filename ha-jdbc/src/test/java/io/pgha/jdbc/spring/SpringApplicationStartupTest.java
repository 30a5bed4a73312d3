package io.pgha.jdbc.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.pgha.core.testkit.TestPorts;
import io.pgha.jdbc.HaDataSource;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Configuration;

/**
 * A real {@code SpringApplication} with {@code @EnableAutoConfiguration}: pgha's auto-configurations are found
 * through {@code META-INF/spring/...AutoConfiguration.imports} (the runner tests name them explicitly), and a bad
 * property stops the application's start with the property's name.
 */
@Timeout(120)
class SpringApplicationStartupTest {

    @Configuration(proxyBeanMethods = false)
    @EnableAutoConfiguration
    static class App {}

    private static SpringApplicationBuilder app(String... properties) {
        return new SpringApplicationBuilder(App.class).web(WebApplicationType.NONE).properties(properties);
    }

    @Test
    void theAutoConfigurationIsDiscoveredByBoot() throws Exception {
        SpringTestSupport.checkBootLine();
        try (ConfigurableApplicationContext ctx = app("pgha.datasource.scope=orders",
                "pgha.datasource.rest-urls=http://127.0.0.1:" + TestPorts.freePort(),
                "pgha.datasource.username=app").run()) {
            assertThat(ctx.getBean(DataSource.class)).isInstanceOf(HaDataSource.class);
            assertThat(SpringTestSupport.healthApi().isInstance(ctx.getBean("pghaHealthIndicator"))).isTrue();
        }
    }

    @Test
    void aBadPropertyStopsTheApplicationNamingIt() throws Exception {
        SpringTestSupport.checkBootLine();
        Throwable failure = catchThrowable(() -> app("pgha.datasource.scope=orders",
                "pgha.datasource.rest-urls=http://127.0.0.1:" + TestPorts.freePort(),
                "pgha.datasource.username=app", "pgha.datasource.leader-wait=2s",
                "pgha.datasource.drain-wait=3s").run().close());
        assertThat(failure).isNotNull();
        Throwable ours = failure;
        while (ours != null && !(ours instanceof InvalidPghaPropertyException)) {
            ours = ours.getCause();
        }
        assertThat(ours).as("in the cause chain of " + failure).isNotNull().hasMessage(
                "pgha.datasource.drain-wait must be <= pgha.datasource.leader-wait (got 3s > 2s): a borrow never "
                        + "waits longer than pgha.datasource.leader-wait");
    }
}
