package io.pgha.core.testkit;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaCodeUnit;
import com.tngtech.archunit.core.domain.JavaField;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.core.domain.JavaType;
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

    private ApiSurface() {}

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

    private static void check(Set<String> out, String where, List<JavaType> types, Predicate<String> allowed) {
        for (JavaType t : types) {
            for (JavaClass raw : t.getAllInvolvedRawTypes()) {
                JavaClass base = raw;
                while (base.isArray()) {
                    base = base.getComponentType();
                }
                String n = base.getName();
                if (base.isPrimitive() || n.startsWith("java.") || allowed.test(n)) {
                    continue;
                }
                out.add(where + " shows " + n);
            }
        }
    }
}
