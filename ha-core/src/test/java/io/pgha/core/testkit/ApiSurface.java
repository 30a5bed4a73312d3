package io.pgha.core.testkit;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaCodeUnit;
import com.tngtech.archunit.core.domain.JavaField;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.core.domain.JavaType;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;

/**
 * Checks what a module shows its users: every type in the signature of a public or protected member of a public
 * class (parameters, results, thrown exceptions, fields, super types, type arguments) must come from the JDK or
 * from an allowed package. Used by ha-core's {@code ArchitectureTest} and by each adapter module, so that a client
 * library's type (Curator's {@code ConnectionState}, Jackson's {@code ObjectNode}) never becomes part of pgha's API.
 */
public final class ApiSurface {

    /**
     * ha-core's public packages (relative to {@code io.pgha.core}): what users and adapter authors program against
     * ({@code spi.http}: the HTTP client adapters share).
     */
    public static final Set<String> CORE_PUBLIC_PACKAGES = Set.of("api", "config", "cluster", "spi", "spi.http",
            "time", "postgres");

    private static final String CORE = "io.pgha.core.";

    private ApiSurface() {}

    /** True for a type of one of ha-core's public packages ({@link #CORE_PUBLIC_PACKAGES}). */
    public static boolean isCorePublicType(String name) {
        int dot = name.lastIndexOf('.');
        return name.startsWith(CORE) && dot > CORE.length()
                && CORE_PUBLIC_PACKAGES.contains(name.substring(CORE.length(), dot));
    }

    /**
     * The leaks of a store adapter: its public classes (the main classes of {@code adapterPackage} and below) may show
     * only JDK types, types of ha-core's public packages and the adapter's own types; never its client library's
     * (Curator, ZooKeeper, Jackson).
     */
    public static List<String> adapterLeaks(String adapterPackage) {
        List<JavaClass> api = new ArrayList<>();
        new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages(adapterPackage).forEach(api::add);
        if (api.isEmpty()) {
            throw new IllegalStateException("no main classes found in " + adapterPackage);
        }
        return leaks(api, name -> isCorePublicType(name) || name.startsWith(adapterPackage + "."));
    }

    /**
     * Every leak: one line per member that shows a type outside {@code allowed}, naming the member and the type.
     *
     * @param api     the public classes to inspect (their public and protected members)
     * @param allowed which fully qualified type names a signature may show (JDK types are always allowed)
     */
    public static List<String> leaks(Iterable<JavaClass> api, Predicate<String> allowed) {
        Set<String> out = new TreeSet<>();
        for (JavaClass c : api) {
            if (!isVisible(c)) {
                continue;
            }
            List<JavaType> shown = new ArrayList<>();
            c.getRawSuperclass().ifPresent(s -> shown.add(c.getSuperclass().orElse(s)));
            shown.addAll(c.getInterfaces());
            check(out, c.getName() + " (super types)", shown, allowed);
            for (JavaCodeUnit u : c.getCodeUnits()) {
                if (!isVisibleMember(u.getModifiers()) || u.getName().startsWith("lambda$")) {
                    continue;
                }
                List<JavaType> types = new ArrayList<>(u.getParameterTypes());
                types.add(u.getReturnType());
                u.getThrowsClause().forEach(t -> types.add(t.getRawType()));
                check(out, u.getFullName(), types, allowed);
            }
            for (JavaField f : c.getFields()) {
                if (isVisibleMember(f.getModifiers())) {
                    check(out, f.getFullName(), List.of(f.getType()), allowed);
                }
            }
        }
        return List.copyOf(out);
    }

    /** Public, and every enclosing class public too (a public nested class of a package-private one is hidden). */
    public static boolean isVisible(JavaClass c) {
        for (JavaClass x = c; x != null; x = x.getEnclosingClass().orElse(null)) {
            if (!x.getModifiers().contains(JavaModifier.PUBLIC)) {
                return false;
            }
        }
        return !c.isAnonymousClass() && !c.isLocalClass();
    }

    private static boolean isVisibleMember(Set<JavaModifier> m) {
        return (m.contains(JavaModifier.PUBLIC) || m.contains(JavaModifier.PROTECTED))
                && !m.contains(JavaModifier.SYNTHETIC) && !m.contains(JavaModifier.BRIDGE);
    }

    /** A type of the JDK itself: {@code java.*}, or one the platform class loader finds ({@code javax.net.ssl}). */
    private static boolean isJdk(String name) {
        if (name.startsWith("java.")) {
            return true;
        }
        try {
            Class.forName(name, false, ClassLoader.getPlatformClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    private static void check(Set<String> out, String where, List<JavaType> types, Predicate<String> allowed) {
        for (JavaType t : types) {
            for (JavaClass raw : t.getAllInvolvedRawTypes()) {
                JavaClass base = raw;
                while (base.isArray()) {
                    base = base.getComponentType();
                }
                String n = base.getName();
                if (base.isPrimitive() || isJdk(n) || allowed.test(n)) {
                    continue;
                }
                out.add(where + " shows " + n);
            }
        }
    }
}
