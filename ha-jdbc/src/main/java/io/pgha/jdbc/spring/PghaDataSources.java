package io.pgha.jdbc.spring;

import io.micrometer.core.instrument.MeterRegistry;
import io.pgha.core.config.ConfigSection;
import io.pgha.core.config.DataSize;
import io.pgha.core.config.TlsClient;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.spi.DcsProviders;
import io.pgha.jdbc.HaDataSource;
import io.pgha.jdbc.HaDataSourceBuilder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Builds an {@link HaDataSource} from {@code pgha.datasource.*}, and says what is wrong in the application's own
 * terms: {@link HaDataSourceBuilder} names its settings ({@code leaderWait}), a Spring user wrote
 * {@code pgha.datasource.leader-wait}.
 */
final class PghaDataSources {

    static final String PREFIX = "pgha.datasource.";
    /** Builder settings whose name cannot be mistaken for an ordinary word, mapped wherever they appear. */
    private static final Map<String, String> SETTINGS = Map.ofEntries(
            Map.entry("leaderWait", "leader-wait"), Map.entry("drainWait", "drain-wait"),
            Map.entry("maxLag", "max-lag"), Map.entry("refreshInterval", "refresh-interval"),
            Map.entry("storeTimeout", "store-timeout"), Map.entry("restPollInterval", "rest-poll-interval"),
            Map.entry("restUrls", "rest-urls"));
    /** Builder settings that are ordinary words: mapped only where the message starts with them. */
    private static final Map<String, String> LEADING = Map.of("scope", "scope", "namespace", "namespace",
            "database", "database", "user", "username", "name", "name");
    private static final Pattern CAMEL = Pattern.compile("\\b(" + String.join("|", SETTINGS.keySet()) + ")\\b");
    private static final Pattern HIKARI = Pattern.compile("^hikari: (.+?) must");
    private static final Pattern PROPERTY = Pattern.compile("^property (\\S+) ");

    private PghaDataSources() {}

    /**
     * @param member {@code pgha.member.*} when set: its store is the source when neither {@code dcs.type} nor
     *               {@code rest-urls} is set
     * @param registry the application's Micrometer {@code MeterRegistry}, or null (typed Object: Micrometer is optional)
     * @throws InvalidPghaPropertyException naming the {@code pgha.datasource.*} property and the rule it breaks
     */
    static HaDataSource build(PghaDataSourceProperties p, PghaMemberProperties member, Object registry) {
        try {
            HaDataSourceBuilder b = HaDataSource.builder();
            boolean dcs = p.getDcs().getType() != null;
            boolean rest = p.getRestUrls() != null && !p.getRestUrls().isEmpty();
            if (dcs && rest) {
                throw new InvalidPghaPropertyException(PREFIX + "dcs.type and " + PREFIX + "rest-urls: set one "
                        + "source, not both");
            }
            if (dcs) {
                b.dcs(storeFactory(PREFIX, p.getDcs()), p.getScope()).namespace(p.getNamespace());
            } else if (rest) {
                b.restUrls(p.getRestUrls(), p.getScope());
                if (p.getRestUsername() != null || p.getRestPassword() != null) {
                    if (p.getRestUsername() == null || p.getRestPassword() == null) {
                        throw new InvalidPghaPropertyException(PREFIX + "rest-username and " + PREFIX
                                + "rest-password must be set together");
                    }
                    b.restCredentials(p.getRestUsername(), p.getRestPassword());
                }
                if (p.getRestTls().isSet()) {
                    b.restTls(restTls(p.getRestTls()));
                }
            } else if (member != null && member.getDcs().getType() != null) {
                // The embedded member's store and scope, through a read-only client of the DataSource's own: the
                // member starts only once the context is ready, after this DataSource exists.
                b.dcs(storeFactory(PghaMember.PREFIX, member.getDcs()), member.getScope())
                        .namespace(member.getNamespace());
            } else {
                throw new InvalidPghaPropertyException(PREFIX + "dcs.type or " + PREFIX + "rest-urls must be set "
                        + "(or pgha.member.* for an embedded member): the DataSource needs a source to follow the "
                        + "cluster's leader");
            }
            b.restPollInterval(p.getRestPollInterval()).database(p.getDatabase()).user(p.getUsername())
                    .password(p.getPassword()).leaderWait(p.getLeaderWait()).drainWait(p.getDrainWait())
                    .refreshInterval(p.getRefreshInterval()).storeTimeout(p.getStoreTimeout())
                    .routeReadOnly(p.isRouteReadOnly()).resolveCommits(p.isResolveCommits()).name(p.getName());
            if (p.getMaxLag() == null || p.getMaxLag().isNegative()) {
                throw new InvalidPghaPropertyException(PREFIX + "max-lag must be a size >= 0, e.g. 16MB (got "
                        + p.getMaxLag() + ")");
            }
            b.maxLag(DataSize.ofBytes(p.getMaxLag().toBytes()));
            p.getProperties().forEach(b::property);
            b.hikari(h -> p.getHikari().copyStateTo(h));
            if (registry != null) {
                b.metrics((MeterRegistry) registry);
            }
            return b.build();
        } catch (InvalidPghaPropertyException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw new InvalidPghaPropertyException(inPropertyTerms(e.getMessage()), e);
        }
    }

    /** The client TLS of {@code rest-tls.*}; errors name {@code pgha.datasource.rest-tls.<key>}. */
    private static TlsClient restTls(PghaDataSourceProperties.RestTls t) {
        TlsClient.Builder b = TlsClient.builder(PREFIX + "rest-tls").insecure(t.isInsecure());
        if (t.getCacert() != null) {
            b.cacert(Path.of(t.getCacert()));
        }
        if (t.getCertfile() != null) {
            b.certfile(Path.of(t.getCertfile()));
        }
        if (t.getKeyfile() != null) {
            b.keyfile(Path.of(t.getKeyfile()));
        }
        if (t.getKeyfilePassword() != null) {
            b.keyfilePassword(t.getKeyfilePassword());
        }
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            // The messages name Patroni's keys; here the property is spelt in kebab case.
            throw new InvalidPghaPropertyException(e.getMessage().replace(".keyfile_password", ".keyfile-password"),
                    e);
        }
    }

    /**
     * The store module's factory, from {@code dcs.type}, {@code dcs.hosts} and {@code dcs.settings}.
     *
     * @param prefix where the properties are, e.g. {@code pgha.datasource.}, for the messages
     */
    static DcsFactory storeFactory(String prefix, PghaDataSourceProperties.Dcs d) {
        String type = d.getType().trim().toLowerCase(Locale.ROOT);
        Map<String, Object> values = new LinkedHashMap<>(d.getSettings());
        List<String> hosts = d.getHosts() == null ? List.of() : d.getHosts();
        if (hosts.isEmpty()) {
            throw new InvalidPghaPropertyException(prefix + "dcs.hosts must name the store's address(es), e.g. "
                    + "zk1:2181,zk2:2181 (got none)");
        }
        String section;
        switch (type) {
            case "zookeeper" -> section = "zookeeper";
            case "etcd", "etcd3" -> section = "etcd3";
            case "consul" -> section = "consul";
            default -> throw new InvalidPghaPropertyException(prefix + "dcs.type must be zookeeper, etcd or consul "
                    + "(got '" + d.getType() + "')");
        }
        if (section.equals("consul")) {
            if (hosts.size() != 1) {
                throw new InvalidPghaPropertyException(prefix + "dcs.hosts: consul takes one agent address (got "
                        + hosts.size() + "): Consul clients talk to their local agent");
            }
            values.put("host", hosts.get(0));
        } else {
            values.put("hosts", hosts);
        }
        ConfigSection s = new ConfigSection(prefix + "dcs.settings", values);
        DcsFactory f;
        try {
            f = DcsProviders.fromConfig(section, s);
        } catch (IllegalArgumentException e) {
            throw new InvalidPghaPropertyException(prefix + "dcs: " + e.getMessage(), e);
        }
        List<String> unused = s.unusedKeys();
        if (!unused.isEmpty()) {
            // ConfigSection names them by their full path, pgha.datasource.dcs.settings.<key>.
            throw new InvalidPghaPropertyException(String.join(", ", unused) + ": not a setting of the " + type
                    + " store module");
        }
        return f;
    }

    /** The builder's message, with its setting names replaced by the properties the user wrote. */
    static String inPropertyTerms(String message) {
        if (message == null) {
            return PREFIX + "*: invalid";
        }
        String out = message;
        Matcher h = HIKARI.matcher(message);
        Matcher pr = PROPERTY.matcher(message);
        int space = out.indexOf(' ');
        String first = space < 0 ? out : out.substring(0, space);
        if (h.find()) {
            String what = h.group(1);
            if (what.startsWith("dataSourceProperty ")) {
                out = PREFIX + "hikari.data-source-properties." + what.substring("dataSourceProperty ".length())
                        + message.substring(h.end(1));
            } else {
                StringBuilder names = new StringBuilder();
                for (String part : what.split("/")) {
                    names.append(names.length() == 0 ? "" : " / ").append(PREFIX).append("hikari.")
                            .append(kebab(part));
                }
                out = names + message.substring(h.end(1));
            }
        } else if (pr.find()) {
            out = PREFIX + "properties." + pr.group(1) + message.substring(pr.end(1));
        } else if (message.startsWith("source:")) {
            out = PREFIX + "dcs.type / " + PREFIX + "rest-urls:" + message.substring("source:".length());
        } else if (LEADING.containsKey(first)) {
            out = PREFIX + LEADING.get(first) + out.substring(first.length());
        }
        Matcher m = CAMEL.matcher(out);
        StringBuilder sb = new StringBuilder();
        while (m.find()) {
            m.appendReplacement(sb, Matcher.quoteReplacement(PREFIX + SETTINGS.get(m.group(1))));
        }
        m.appendTail(sb);
        return sb.toString().replace("user()/password()", PREFIX + "username/password");
    }

    private static String kebab(String camel) {
        return camel.replaceAll("([a-z0-9])([A-Z])", "$1-$2").toLowerCase(Locale.ROOT);
    }
}
