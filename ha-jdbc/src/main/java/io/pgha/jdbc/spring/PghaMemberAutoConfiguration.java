package io.pgha.jdbc.spring;

import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;

/** {@code pgha.member.name} set: the application runs a pgha member for its lifetime ({@link PghaMember}). */
@AutoConfiguration
@ConditionalOnProperty(prefix = "pgha.member", name = "name")
@EnableConfigurationProperties(PghaMemberProperties.class)
public class PghaMemberAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean
    PghaMember pghaMember(PghaMemberProperties properties) {
        return new PghaMember(properties);
    }
}
