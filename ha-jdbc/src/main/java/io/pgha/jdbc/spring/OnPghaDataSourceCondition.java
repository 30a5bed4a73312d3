package io.pgha.jdbc.spring;

import org.springframework.boot.autoconfigure.condition.ConditionOutcome;
import org.springframework.boot.autoconfigure.condition.SpringBootCondition;
import org.springframework.boot.context.properties.source.ConfigurationPropertyName;
import org.springframework.boot.context.properties.source.ConfigurationPropertySource;
import org.springframework.boot.context.properties.source.ConfigurationPropertySources;
import org.springframework.boot.context.properties.source.ConfigurationPropertyState;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.core.type.AnnotatedTypeMetadata;

/**
 * Matches when the application sets any {@code pgha.datasource.*} property, in any of Boot's relaxed forms
 * (environment variables included): without one, {@code spring.datasource.*} (or {@code jdbc:pgha:} URLs) stay in
 * charge of the DataSource.
 */
class OnPghaDataSourceCondition extends SpringBootCondition {

    private static final ConfigurationPropertyName PREFIX = ConfigurationPropertyName.of("pgha.datasource");

    @Override
    public ConditionOutcome getMatchOutcome(ConditionContext context, AnnotatedTypeMetadata metadata) {
        for (ConfigurationPropertySource source : ConfigurationPropertySources.get(context.getEnvironment())) {
            if (source.containsDescendantOf(PREFIX) == ConfigurationPropertyState.PRESENT) {
                return ConditionOutcome.match("pgha.datasource.* is set");
            }
        }
        return ConditionOutcome.noMatch("no pgha.datasource.* property");
    }
}
