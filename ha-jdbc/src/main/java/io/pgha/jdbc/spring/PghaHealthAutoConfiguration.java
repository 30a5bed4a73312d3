package io.pgha.jdbc.spring;

import io.pgha.jdbc.HaDataSource;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The {@code pgha} health indicator for the application's {@link HaDataSource}, in whichever health API the running
 * Boot has: Boot 3's {@code org.springframework.boot.actuate.health} or Boot 4's
 * {@code org.springframework.boot.health.contributor}. Each nested class names its API by string, so a Boot line
 * never loads the other's classes.
 */
@AutoConfiguration(after = PghaDataSourceAutoConfiguration.class)
@ConditionalOnBean(HaDataSource.class)
public class PghaHealthAutoConfiguration {

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = "org.springframework.boot.actuate.health.HealthIndicator")
    static class Boot3 {

        @Bean
        @ConditionalOnMissingBean(name = "pghaHealthIndicator")
        PghaBoot3HealthIndicator pghaHealthIndicator(HaDataSource ds, ObjectProvider<PghaMember> member) {
            return new PghaBoot3HealthIndicator(new PghaHealth(ds, member.getIfAvailable()));
        }
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = "org.springframework.boot.health.contributor.HealthIndicator")
    static class Boot4 {

        @Bean
        @ConditionalOnMissingBean(name = "pghaHealthIndicator")
        PghaBoot4HealthIndicator pghaHealthIndicator(HaDataSource ds, ObjectProvider<PghaMember> member) {
            return new PghaBoot4HealthIndicator(new PghaHealth(ds, member.getIfAvailable()));
        }
    }
}
