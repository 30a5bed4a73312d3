package io.pgha.core;

import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.Dependency;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import io.pgha.core.testkit.ApiSurface;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The shape of ha-core, checked on its compiled classes (docs/decisions/0008, README "Architecture").
 *
 * <ul>
 *   <li><b>One-way layering.</b> Each package may use only the packages listed for it in {@link #MAY_USE}; the
 *       table has no cycle, so neither has the code. A back edge (say {@code cluster} importing {@code spi}) fails
 *       here with the class, member and line that added it.</li>
 *   <li><b>Third-party libraries where they belong.</b> Jackson only in the codec ({@code spi}) and the REST API,
 *       pgjdbc only in {@code postgres}; {@code config}, {@code cluster}, {@code time} and {@code spi.http} use the JDK
 *       alone.</li>
 *   <li><b>A small public surface.</b> The public packages ({@link #PUBLIC}) show only JDK and public-package types
 *       in their signatures, and a class in an internal package is public only when another package uses it.</li>
 * </ul>
 */
class ArchitectureTest {

    private static final String ROOT = "io.pgha.core.";

    /** Package (relative to io.pgha.core) to the packages it may use. Listed bottom-up. */
    static final Map<String, Set<String>> MAY_USE = Map.ofEntries(
            Map.entry("time", Set.of()),
            Map.entry("config", Set.of()),
            Map.entry("cluster", Set.of("config")),
            // The blocking HTTP client adapters and the peer client share: JDK only, below everything that uses it.
            Map.entry("spi.http", Set.of()),
            Map.entry("spi", Set.of("cluster", "config", "time")),
            Map.entry("postgres", Set.of("spi", "cluster", "config")),
            Map.entry("internal.ha", Set.of("spi", "cluster", "config", "time")),
            Map.entry("internal.watchdog", Set.of("internal.ha", "config")),
            Map.entry("internal.admin", Set.of("internal.ha", "spi", "cluster", "config", "time")),
            Map.entry("internal.rest", Set.of("internal.admin", "internal.ha", "spi.http", "spi", "cluster", "config",
                    "time")),
            Map.entry("api", Set.of("internal.rest", "internal.admin", "internal.ha", "internal.watchdog", "postgres",
                    "spi", "cluster", "config", "time")));

    /** The packages a user or an adapter author programs against. */
    static final Set<String> PUBLIC = ApiSurface.CORE_PUBLIC_PACKAGES;

    /** Libraries each package may use besides the JDK and pgha's own packages. */
    static final Map<String, Set<String>> MAY_USE_LIBRARIES = Map.ofEntries(
            Map.entry("time", Set.of()),
            Map.entry("config", Set.of()),
            Map.entry("cluster", Set.of()),
            Map.entry("spi.http", Set.of()),
            Map.entry("spi", Set.of("com.fasterxml.jackson.", "org.slf4j.")),
            Map.entry("postgres", Set.of("org.postgresql.", "org.slf4j.")),
            Map.entry("internal.ha", Set.of("org.slf4j.")),
            Map.entry("internal.watchdog", Set.of()),
            Map.entry("internal.admin", Set.of("org.slf4j.")),
            Map.entry("internal.rest", Set.of("com.fasterxml.jackson.", "com.sun.net.httpserver.", "org.slf4j.")),
            Map.entry("api", Set.of("org.slf4j.")));

    private static JavaClasses main;
    private static JavaClasses mainAndTests;

    @BeforeAll
    static void importClasses() {
        main = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("io.pgha.core");
        mainAndTests = new ClassFileImporter().importPackages("io.pgha.core");
        assertThat(main).as("ha-core's main classes were found").hasSizeGreaterThan(50);
        assertThat(mainAndTests.size()).as("and its tests").isGreaterThan(main.size());
    }

    static String packageOf(JavaClass c) {
        String p = c.getPackageName();
        return p.startsWith(ROOT) ? p.substring(ROOT.length()) : p;
    }

    @Test
    void everyPackageIsKnownToTheLayering() {
        Set<String> unknown = main.stream().map(ArchitectureTest::packageOf).filter(p -> !MAY_USE.containsKey(p))
                .collect(Collectors.toCollection(TreeSet::new));
        assertThat(unknown).as("packages missing from MAY_USE (add them with the packages they may use)").isEmpty();
    }

    @Test
    void dependenciesBetweenPackagesRunOneWay() {
        List<String> backEdges = new ArrayList<>();
        for (JavaClass c : main) {
            String from = packageOf(c);
            for (Dependency d : c.getDirectDependenciesFromSelf()) {
                JavaClass target = base(d.getTargetClass());
                if (!target.getPackageName().startsWith(ROOT)) {
                    continue;
                }
                String to = packageOf(target);
                if (!to.equals(from) && !MAY_USE.getOrDefault(from, Set.of()).contains(to)) {
                    backEdges.add(from + " -> " + to + ": " + d.getDescription());
                }
            }
        }
        assertThat(backEdges).as("dependencies against the layering (MAY_USE)").isEmpty();
    }

    @Test
    void librariesAreUsedOnlyWhereTheyBelong() {
        List<String> misplaced = new ArrayList<>();
        for (JavaClass c : main) {
            String from = packageOf(c);
            Set<String> allowed = MAY_USE_LIBRARIES.getOrDefault(from, Set.of());
            for (Dependency d : c.getDirectDependenciesFromSelf()) {
                String name = base(d.getTargetClass()).getName();
                if (name.startsWith("java.") || name.startsWith("javax.") || name.startsWith("io.pgha.")
                        || isPrimitive(d.getTargetClass())) {
                    continue;
                }
                if (allowed.stream().noneMatch(name::startsWith)) {
                    misplaced.add(from + " uses " + name + ": " + d.getDescription());
                }
            }
        }
        assertThat(misplaced).as("libraries outside the packages that may use them").isEmpty();
    }

    @Test
    void publicPackagesShowOnlyJdkAndPublicPackageTypes() {
        List<JavaClass> api = main.stream().filter(c -> PUBLIC.contains(packageOf(c))).toList();
        List<String> leaks = ApiSurface.leaks(api, ApiSurface::isCorePublicType);
        assertThat(leaks).as("internal or third-party types in the public API").isEmpty();
    }

    @Test
    void aClassInAnInternalPackageIsPublicOnlyWhenAnotherPackageUsesIt() {
        // Uses from tests count: the test kit (another package) drives the HA loop in the simulation.
        List<String> needlessly = new ArrayList<>();
        for (JavaClass m : main) {
            String pkg = packageOf(m);
            JavaClass c = mainAndTests.get(m.getName());
            if (!pkg.startsWith("internal.") || !c.getModifiers().contains(JavaModifier.PUBLIC)
                    || c.getEnclosingClass().isPresent()) {
                continue;
            }
            boolean usedOutside = c.getDirectDependenciesToSelf().stream()
                    .map(d -> base(d.getOriginClass()))
                    .anyMatch(o -> !o.getPackageName().equals(c.getPackageName()));
            if (!usedOutside) {
                needlessly.add(c.getName());
            }
        }
        assertThat(needlessly).as("public classes of internal packages that no other package uses").isEmpty();
    }

    private static JavaClass base(JavaClass c) {
        JavaClass b = c;
        while (b.isArray()) {
            b = b.getComponentType();
        }
        return b;
    }

    private static boolean isPrimitive(JavaClass c) {
        return base(c).isPrimitive();
    }
}
