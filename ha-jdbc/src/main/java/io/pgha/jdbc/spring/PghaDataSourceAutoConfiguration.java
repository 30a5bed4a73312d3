package io.pgha.jdbc.spring;

import io.pgha.jdbc.HaDataSource;
import io.pgha.jdbc.PghaDriver;
import javax.sql.DataSource;
import org.springframework.beans.BeanWrapper;
import org.springframework.beans.BeanWrapperImpl;
import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.Configuration;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.support.JdbcAccessor;
import org.springframework.jdbc.support.JdbcTransactionManager;
import org.springframework.util.ClassUtils;

/**
 * The application's {@code DataSource} as an {@link HaDataSource}, from {@code pgha.datasource.*}; ahead of Boot's
 * own DataSource auto-configuration (Boot 3's and Boot 4's class names), which then backs off. Without any
 * {@code pgha.datasource.*} property nothing happens here, so {@code spring.datasource.url=jdbc:pgha:...} keeps
 * working through the driver.
 */
@AutoConfiguration(after = PghaMemberAutoConfiguration.class, beforeName = {
        "org.springframework.boot.autoconfigure.jdbc.DataSourceAutoConfiguration",
        "org.springframework.boot.jdbc.autoconfigure.DataSourceAutoConfiguration"})
@ConditionalOnClass(DataSource.class)
@EnableConfigurationProperties(PghaDataSourceProperties.class)
public class PghaDataSourceAutoConfiguration {

    private static final String METER_REGISTRY = "io.micrometer.core.instrument.MeterRegistry";

    @Bean
    @ConditionalOnMissingBean(DataSource.class)
    @Conditional(OnPghaDataSourceCondition.class)
    HaDataSource dataSource(PghaDataSourceProperties properties, ObjectProvider<PghaMemberProperties> member,
                            ListableBeanFactory beans) {
        // Micrometer is optional: its type must not appear in a signature Spring introspects without it.
        Object registry = ClassUtils.isPresent(METER_REGISTRY, getClass().getClassLoader())
                ? MeterRegistries.unique(beans) : null;
        return PghaDataSources.build(properties, member.getIfAvailable(), registry);
    }

    /**
     * {@code spring.datasource.url=jdbc:pgha:...} without {@code spring.datasource.driver-class-name}: Boot infers the
     * driver from the URL prefixes it knows and fails on ours ("Failed to determine a suitable driver class"), so the
     * driver is filled in on Boot's {@code DataSourceProperties} (Boot 3's and Boot 4's class alike, by name).
     */
    @Bean
    static BeanPostProcessor pghaDriverForSpringDatasourceUrl() {
        return new BeanPostProcessor() {
            @Override
            public Object postProcessAfterInitialization(Object bean, String name) {
                String type = bean.getClass().getName();
                if (type.equals("org.springframework.boot.autoconfigure.jdbc.DataSourceProperties")
                        || type.equals("org.springframework.boot.jdbc.autoconfigure.DataSourceProperties")) {
                    BeanWrapper props = new BeanWrapperImpl(bean);
                    Object url = props.getPropertyValue("url");
                    if (url instanceof String u && u.startsWith("jdbc:pgha:")
                            && props.getPropertyValue("driverClassName") == null) {
                        props.setPropertyValue("driverClassName", PghaDriver.class.getName());
                    }
                }
                return bean;
            }
        };
    }

    /** Failover SQLStates as transient exceptions in Spring's JDBC support (see PghaSQLExceptionTranslator). */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(JdbcTemplate.class)
    static class ExceptionTranslation {

        @Bean
        static BeanPostProcessor pghaExceptionTranslation() {
            return new BeanPostProcessor() {
                @Override
                public Object postProcessAfterInitialization(Object bean, String name) {
                    if (bean instanceof JdbcAccessor a && a.getDataSource() instanceof HaDataSource
                            && !(a.getExceptionTranslator() instanceof PghaSQLExceptionTranslator)) {
                        a.setExceptionTranslator(new PghaSQLExceptionTranslator(a.getExceptionTranslator()));
                    } else if (bean instanceof JdbcTransactionManager tm
                            && tm.getDataSource() instanceof HaDataSource
                            && !(tm.getExceptionTranslator() instanceof PghaSQLExceptionTranslator)) {
                        tm.setExceptionTranslator(new PghaSQLExceptionTranslator(tm.getExceptionTranslator()));
                    }
                    return bean;
                }
            };
        }
    }
}
