package io.pgha.jdbc.spring;

import io.micrometer.core.instrument.MeterRegistry;
import org.springframework.beans.factory.ListableBeanFactory;

/** Touches Micrometer's types; loaded only when Micrometer is on the class path. */
final class MeterRegistries {

    private MeterRegistries() {}

    /** The application's registry (Boot's composite when there are several), or null. */
    static Object unique(ListableBeanFactory beans) {
        return beans.getBeanProvider(MeterRegistry.class).getIfUnique();
    }
}
