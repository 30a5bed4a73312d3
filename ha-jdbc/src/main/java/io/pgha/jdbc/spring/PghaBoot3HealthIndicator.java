package io.pgha.jdbc.spring;

import org.springframework.boot.actuate.health.Health;
import org.springframework.boot.actuate.health.HealthIndicator;

/** {@link PghaHealth} in Boot 3's health API ({@code org.springframework.boot.actuate.health}). */
final class PghaBoot3HealthIndicator implements HealthIndicator {

    private final PghaHealth health;

    PghaBoot3HealthIndicator(PghaHealth health) {
        this.health = health;
    }

    @Override
    public Health health() {
        PghaHealth.Reading r = health.read();
        return (r.up() ? Health.up() : Health.down()).withDetails(r.details()).build();
    }
}
