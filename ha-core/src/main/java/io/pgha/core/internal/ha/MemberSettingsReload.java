package io.pgha.core.internal.ha;

import io.pgha.core.config.ReloadableSettings;
import io.pgha.core.config.RestEndpoint;
import io.pgha.core.config.Tags;
import io.pgha.core.spi.Postgres;
import io.pgha.core.spi.PostgresException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator's reload re-reads the member's own settings from where they came from (the agent's YAML file) and
 * takes what may change while the member runs ({@link ReloadableSettings}), as Patroni's reload re-reads its
 * configuration file. Runs on the HA loop's thread, right before PostgreSQL re-reads its files.
 */
final class MemberSettingsReload {

    private static final Logger LOG = LoggerFactory.getLogger(MemberSettingsReload.class);

    private final Postgres postgres;
    private final Consumer<Tags> useTags;
    private final String prefix;
    private final List<Supplier<String>> alsoReread = new ArrayList<>();
    private Supplier<ReloadableSettings> source;
    /** Takes re-read REST settings; null when the member has no REST API. */
    private Function<RestEndpoint, String> restReload;
    private ReloadableSettings current;

    MemberSettingsReload(Postgres postgres, Consumer<Tags> useTags, ReloadableSettings current, String prefix) {
        this.prefix = prefix;
        this.postgres = Objects.requireNonNull(postgres, "postgres");
        this.useTags = Objects.requireNonNull(useTags, "useTags");
        this.current = Objects.requireNonNull(current, "current");
    }

    /** Where a reload re-reads the settings from, and what they are now; a null source re-reads nothing. */
    synchronized void source(Supplier<ReloadableSettings> s, ReloadableSettings now) {
        source = s;
        current = Objects.requireNonNull(now, "now");
    }

    /**
     * Re-reads and applies the settings: PostgreSQL's first (they take effect with the reload that follows), then
     * the tags (published with the next member-key write).
     *
     * @return what changed, for the log and the request's answer; null when there is nothing to re-read
     * @throws IllegalArgumentException the source could not be read or holds a bad value: nothing was applied
     */
    synchronized String reload() throws PostgresException {
        List<String> changes = new ArrayList<>();
        Supplier<ReloadableSettings> s = source;
        if (s != null) {
            rereadSettings(s, changes);
        }
        for (Supplier<String> step : alsoReread) {
            try {
                String done = step.get();
                if (done != null) {
                    changes.add(done);
                }
            } catch (IllegalArgumentException e) {
                // The files stay as they were (a certificate being replaced, say): the reload itself goes on.
                LOG.warn("{}reload: {}; keeping the current ones", prefix, e.getMessage());
                changes.add("kept the current ones: " + e.getMessage());
            }
        }
        if (s == null && changes.isEmpty()) {
            return null;
        }
        return changes.isEmpty() ? "member settings unchanged" : String.join("; ", changes);
    }

    /** Also re-read on every reload (the REST API's certificates); a step throws IllegalArgumentException to refuse. */
    synchronized void alsoReread(Supplier<String> step) {
        alsoReread.add(Objects.requireNonNull(step, "step"));
    }

    /** Where re-read REST settings go (the member's REST API); see {@link HaLoop#reloadRestWith}. */
    synchronized void restReload(Function<RestEndpoint, String> apply) {
        restReload = Objects.requireNonNull(apply, "apply");
    }

    private void rereadSettings(Supplier<ReloadableSettings> s, List<String> out) throws PostgresException {
        ReloadableSettings next = Objects.requireNonNull(s.get(), "the settings source returned nothing");
        List<String> changes = new ArrayList<>();
        if (!next.parameters().equals(current.parameters()) || !next.pgHba().equals(current.pgHba())
                || !next.pgIdent().equals(current.pgIdent())) {
            postgres.useMemberSettings(next.parameters(), next.pgHba(), next.pgIdent());
            if (!next.parameters().equals(current.parameters())) {
                changes.add("own parameters " + changed(current.parameters(), next.parameters()));
            }
            if (!next.pgHba().equals(current.pgHba())) {
                changes.add("own pg_hba (" + next.pgHba().size() + " lines)");
            }
            if (!next.pgIdent().equals(current.pgIdent())) {
                changes.add("own pg_ident (" + next.pgIdent().size() + " lines)");
            }
        }
        if (!next.tags().equals(current.tags())) {
            useTags.accept(next.tags());
            changes.add("tags " + current.tags() + " -> " + next.tags());
        }
        if (next.rest() != null && restReload != null) {
            // Last: a REST address that cannot be bound is reported in the answer, the rest is taken all the same.
            String rest = restReload.apply(next.rest());
            if (rest != null) {
                changes.add(rest);
            }
        }
        current = next;
        if (!changes.isEmpty()) {
            out.add("member settings: " + String.join("; ", changes));
        }
    }

    /** The parameters that differ, each as {@code name old -> new} ("(unset)" for none). */
    private static String changed(Map<String, String> before, Map<String, String> after) {
        Set<String> names = new TreeSet<>(before.keySet());
        names.addAll(after.keySet());
        List<String> out = new ArrayList<>();
        for (String n : names) {
            if (!Objects.equals(before.get(n), after.get(n))) {
                out.add(n + " " + before.getOrDefault(n, "(unset)") + " -> " + after.getOrDefault(n, "(unset)"));
            }
        }
        return String.join(", ", out);
    }
}
