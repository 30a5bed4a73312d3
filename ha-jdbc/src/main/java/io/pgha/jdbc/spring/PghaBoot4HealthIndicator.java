package io.pgha.jdbc.spring;

import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/** {@link PghaHealth} in Boot 4's health API ({@code org.springframework.boot.health.contributor}). */
final class PghaBoot4HealthIndicator implements HealthIndicator {

    private final PghaHealth health;

    PghaBoot4HealthIndicator(PghaHealth health) {
        this.health = health;
    }

    @Override
    public Health health() {
        PghaHealth.Reading r = health.read();
        return (r.up() ? Health.up() : Health.down()).withDetails(r.details()).build();
    }
}
