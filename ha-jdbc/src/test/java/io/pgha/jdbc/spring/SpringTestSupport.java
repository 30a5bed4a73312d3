package io.pgha.jdbc.spring;

import java.util.ArrayList;
import java.util.List;
import org.springframework.boot.SpringBootVersion;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/**
 * One {@link ApplicationContextRunner} for both Boot lines: Boot 4 moved the JDBC and transaction
 * auto-configurations to modules of their own, so they are named by class name and the ones present are used. The
 * surefire run says which Boot it put on the class path ({@code pgha.expectBoot}), and {@link #checkBootLine()}
 * fails a run that got the other one.
 */
public final class SpringTestSupport {

    private static final String[] BOOT_AUTO_CONFIGURATIONS = {
        // Boot 3.5
        "org.springframework.boot.autoconfigure.jdbc.DataSourceAutoConfiguration",
        "org.springframework.boot.autoconfigure.jdbc.JdbcTemplateAutoConfiguration",
        "org.springframework.boot.autoconfigure.jdbc.DataSourceTransactionManagerAutoConfiguration",
        "org.springframework.boot.autoconfigure.transaction.TransactionAutoConfiguration",
        // Boot 4.0
        "org.springframework.boot.jdbc.autoconfigure.DataSourceAutoConfiguration",
        "org.springframework.boot.jdbc.autoconfigure.JdbcTemplateAutoConfiguration",
        "org.springframework.boot.jdbc.autoconfigure.DataSourceTransactionManagerAutoConfiguration",
        "org.springframework.boot.transaction.autoconfigure.TransactionAutoConfiguration",
    };

    private SpringTestSupport() {}

    /** Boot's DataSource, JdbcTemplate and transaction auto-configurations, and pgha's. */
    public static ApplicationContextRunner runner() {
        List<Class<?>> classes = new ArrayList<>();
        for (String name : BOOT_AUTO_CONFIGURATIONS) {
            try {
                classes.add(Class.forName(name));
            } catch (ClassNotFoundException e) {
                // the other Boot line's
            }
        }
        if (classes.size() != 4) {
            throw new IllegalStateException("expected Boot's 4 JDBC/transaction auto-configurations, found "
                    + classes);
        }
        classes.add(PghaMemberAutoConfiguration.class);
        classes.add(PghaDataSourceAutoConfiguration.class);
        classes.add(PghaHealthAutoConfiguration.class);
        return new ApplicationContextRunner().withConfiguration(AutoConfigurations.of(classes.toArray(new Class<?>[0])));
    }

    /** The running Boot line's health API, the interface a pgha health indicator must implement. */
    public static Class<?> healthApi() throws ClassNotFoundException {
        return Class.forName(checkBootLine().startsWith("3.")
                ? "org.springframework.boot.actuate.health.HealthIndicator"
                : "org.springframework.boot.health.contributor.HealthIndicator");
    }

    /** Calls {@code health()} of an indicator of either Boot line: its status code and details. */
    @SuppressWarnings("unchecked")
    public static java.util.Map.Entry<String, java.util.Map<String, Object>> health(Object indicator)
            throws Exception {
        Class<?> api = healthApi();
        Object health = api.getMethod("health").invoke(indicator);
        Class<?> healthType = api.getMethod("health").getReturnType();
        Object status = healthType.getMethod("getStatus").invoke(health);
        String code = (String) status.getClass().getMethod("getCode").invoke(status);
        return java.util.Map.entry(code,
                (java.util.Map<String, Object>) healthType.getMethod("getDetails").invoke(health));
    }

    /** The Boot major version on the class path is the one this surefire run is for. */
    public static String checkBootLine() {
        String expected = System.getProperty("pgha.expectBoot", "3");
        String version = SpringBootVersion.getVersion();
        if (version == null || !version.startsWith(expected + ".")) {
            throw new IllegalStateException("this run is for Spring Boot " + expected + ".x but found " + version);
        }
        return version;
    }
}
