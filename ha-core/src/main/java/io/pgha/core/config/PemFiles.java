package io.pgha.core.config;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Cipher;
import javax.crypto.EncryptedPrivateKeyInfo;
import javax.crypto.SecretKey;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.TrustManagerFactory;

/**
 * Reads the PEM files a Patroni user already has (certificate chains, private keys, CA bundles) with the JDK alone,
 * and turns them into key and trust managers. Errors name the setting ({@code restapi.keyfile}, ...) and say how to
 * fix the file; a password is never part of a message (docs/decisions 0510).
 */
final class PemFiles {

    private static final Pattern BLOCK = Pattern.compile(
            "-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \\1-----", Pattern.DOTALL);
    /** DER of the AlgorithmIdentifier {rsaEncryption, NULL}, to wrap a PKCS#1 key into PKCS#8. */
    private static final byte[] RSA_ALGORITHM = {0x30, 0x0d, 0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86,
        (byte) 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};
    /** DER of the OID id-ecPublicKey (1.2.840.10045.2.1), to wrap a SEC1 key into PKCS#8 with its curve. */
    private static final byte[] EC_PUBLIC_KEY = {0x06, 0x07, 0x2a, (byte) 0x86, 0x48, (byte) 0xce, 0x3d, 0x02, 0x01};

    private PemFiles() {}

    /** One PEM block: its label ({@code CERTIFICATE}, {@code PRIVATE KEY}, ...), headers and DER. */
    private record Block(String label, boolean legacyEncrypted, byte[] der) {}

    private static List<Block> blocks(Path file, String setting) {
        if (file == null) {
            throw new IllegalArgumentException(setting + " is required");
        }
        String text;
        try {
            text = Files.readString(file, StandardCharsets.US_ASCII);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(setting + ": the file " + file + " does not exist");
        } catch (IOException e) {
            throw new IllegalArgumentException(setting + ": cannot read " + file + " (" + e.getMessage() + ")", e);
        }
        List<Block> out = new ArrayList<>();
        Matcher m = BLOCK.matcher(text);
        while (m.find()) {
            String body = m.group(2);
            boolean legacy = body.contains("Proc-Type:") && body.contains("ENCRYPTED");
            String base64 = body.lines().filter(l -> !l.contains(":")).reduce("", String::concat).replaceAll("\\s", "");
            byte[] der;
            try {
                der = Base64.getDecoder().decode(base64);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(setting + ": " + file + " has a " + m.group(1)
                        + " block that is not valid base64");
            }
            out.add(new Block(m.group(1), legacy, der));
        }
        return out;
    }

    /** The certificates of a PEM file, in file order (a chain: leaf first). */
    static List<X509Certificate> certificates(Path file, String setting) {
        List<X509Certificate> out = new ArrayList<>();
        CertificateFactory cf;
        try {
            cf = CertificateFactory.getInstance("X.509");
        } catch (CertificateException e) {
            throw new IllegalStateException("X.509 is missing from this JVM", e);
        }
        for (Block b : blocks(file, setting)) {
            if (!b.label().equals("CERTIFICATE") && !b.label().equals("TRUSTED CERTIFICATE")) {
                continue;
            }
            try {
                out.add((X509Certificate) cf.generateCertificate(new ByteArrayInputStream(b.der())));
            } catch (CertificateException e) {
                throw new IllegalArgumentException(setting + ": " + file + " has a certificate that cannot be read ("
                        + e.getMessage() + ")", e);
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException(setting + ": " + file + " holds no PEM certificate (-----BEGIN "
                    + "CERTIFICATE-----)");
        }
        return out;
    }

    /** True when the file holds a private key block (Patroni lets {@code certfile} carry the key too). */
    static boolean hasPrivateKey(Path file, String setting) {
        return blocks(file, setting).stream().anyMatch(b -> b.label().endsWith("PRIVATE KEY"));
    }

    /**
     * The private key of a PEM file: PKCS#8 ({@code PRIVATE KEY}), encrypted PKCS#8 ({@code ENCRYPTED PRIVATE KEY},
     * with {@code password}), PKCS#1 RSA ({@code RSA PRIVATE KEY}) or SEC1 EC ({@code EC PRIVATE KEY}), the last two
     * unencrypted. OpenSSL's legacy encrypted PEM is refused with the command that converts it.
     */
    static PrivateKey privateKey(Path file, String setting, char[] password, String passwordSetting) {
        Block key = blocks(file, setting).stream().filter(b -> b.label().endsWith("PRIVATE KEY")).findFirst()
                .orElseThrow(() -> new IllegalArgumentException(setting + ": " + file + " holds no PEM private key "
                        + "(-----BEGIN PRIVATE KEY-----)"));
        String convert = " convert it to PKCS#8: openssl pkcs8 -topk8 -in " + file + " -out key.pk8.pem -nocrypt"
                + " (or -v2 aes-256-cbc to keep it encrypted with " + passwordSetting + ")";
        if (key.legacyEncrypted()) {
            throw new IllegalArgumentException(setting + ": " + file + " is encrypted in OpenSSL's legacy PEM format,"
                    + " which the JDK cannot read;" + convert);
        }
        byte[] pkcs8;
        switch (key.label()) {
            case "PRIVATE KEY" -> pkcs8 = key.der();
            case "RSA PRIVATE KEY" -> pkcs8 = pkcs8(RSA_ALGORITHM, key.der());
            case "EC PRIVATE KEY" -> {
                byte[] curve;
                try {
                    curve = sec1Curve(key.der());
                } catch (IllegalArgumentException e) {
                    curve = null;
                }
                if (curve == null) {
                    throw new IllegalArgumentException(setting + ": " + file + " is a SEC1 EC key that cannot be read"
                            + " or names no curve;" + convert);
                }
                pkcs8 = pkcs8(der(0x30, EC_PUBLIC_KEY, curve), key.der());
            }
            case "ENCRYPTED PRIVATE KEY" -> {
                if (password == null) {
                    throw new IllegalArgumentException(setting + ": " + file + " is encrypted; set "
                            + passwordSetting);
                }
                pkcs8 = decrypt(key.der(), password, file, setting, passwordSetting);
            }
            default -> throw new IllegalArgumentException(setting + ": " + file + " holds a " + key.label()
                    + ", not a supported private key;" + convert);
        }
        for (String algorithm : List.of("RSA", "EC", "Ed25519", "Ed448", "RSASSA-PSS")) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
            } catch (NoSuchAlgorithmException | InvalidKeySpecException e) {
                // try the next algorithm
            }
        }
        throw new IllegalArgumentException(setting + ": " + file + " holds a private key of an algorithm this JVM "
                + "cannot read (RSA, EC, Ed25519 and Ed448 are read)");
    }

    private static byte[] decrypt(byte[] der, char[] password, Path file, String setting, String passwordSetting) {
        EncryptedPrivateKeyInfo info;
        try {
            info = new EncryptedPrivateKeyInfo(der);
        } catch (IOException e) {
            throw new IllegalArgumentException(setting + ": " + file + " has an ENCRYPTED PRIVATE KEY that cannot "
                    + "be parsed", e);
        }
        // For PBES2 the JDK names the real scheme (PBEWithHmacSHA256AndAES_256) only in the parameters.
        String algorithm = info.getAlgParameters() != null ? info.getAlgParameters().toString() : info.getAlgName();
        try {
            SecretKey k = SecretKeyFactory.getInstance(algorithm).generateSecret(new PBEKeySpec(password));
            Cipher c = Cipher.getInstance(algorithm);
            c.init(Cipher.DECRYPT_MODE, k, info.getAlgParameters());
            return info.getKeySpec(c).getEncoded();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalArgumentException(setting + ": " + file + " is encrypted with " + algorithm + ", which "
                    + "this JVM cannot decrypt; re-encrypt it: openssl pkcs8 -topk8 -v2 aes-256-cbc -in " + file
                    + " -out key.pk8.pem");
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException(setting + ": " + file + " cannot be decrypted with " + passwordSetting
                    + " (wrong password?)");
        }
    }

    /** PrivateKeyInfo ::= SEQUENCE { version 0, AlgorithmIdentifier, OCTET STRING key }. */
    private static byte[] pkcs8(byte[] algorithm, byte[] key) {
        return der(0x30, new byte[] {0x02, 0x01, 0x00}, algorithm, der(0x04, key));
    }

    /**
     * The curve OID (as a whole DER element) of a SEC1 ECPrivateKey ::= SEQUENCE { version, OCTET STRING key,
     * [0] parameters OPTIONAL, [1] publicKey OPTIONAL }, or null when it names none.
     */
    private static byte[] sec1Curve(byte[] sec1) {
        int[] outer = element(sec1, 0);
        if (outer[0] != 0x30) {
            return null;
        }
        int end = outer[1] + outer[2];
        for (int at = outer[1]; at < end; ) {
            int[] e = element(sec1, at);
            if (e[0] == 0xa0) {
                byte[] oid = Arrays.copyOfRange(sec1, at + e[1], at + e[1] + e[2]);
                return oid.length > 2 && oid[0] == 0x06 ? oid : null;
            }
            at += e[1] + e[2];
        }
        return null;
    }

    /** {tag, header length, content length} of the DER element at {@code at}; bounds-checked. */
    private static int[] element(byte[] d, int at) {
        if (at + 2 > d.length) {
            throw new IllegalArgumentException("truncated DER");
        }
        int tag = d[at] & 0xff;
        int len = d[at + 1] & 0xff;
        int header = 2;
        if (len >= 0x80) {
            int n = len & 0x7f;
            if (n < 1 || n > 3 || at + 2 + n > d.length) {
                throw new IllegalArgumentException("bad DER length");
            }
            len = 0;
            for (int i = 0; i < n; i++) {
                len = (len << 8) | (d[at + 2 + i] & 0xff);
            }
            header += n;
        }
        if (at + header + len > d.length) {
            throw new IllegalArgumentException("truncated DER");
        }
        return new int[] {tag, header, len};
    }

    /** One DER element of {@code tag} whose content is the concatenation of {@code parts}. */
    private static byte[] der(int tag, byte[]... parts) {
        ByteArrayOutputStream content = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            content.writeBytes(p);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(derHeader(tag, content.size()));
        out.writeBytes(content.toByteArray());
        return out.toByteArray();
    }

    private static byte[] derHeader(int tag, int length) {
        if (length < 0x80) {
            return new byte[] {(byte) tag, (byte) length};
        }
        int bytes = length > 0xffffff ? 4 : length > 0xffff ? 3 : length > 0xff ? 2 : 1;
        byte[] h = new byte[2 + bytes];
        h[0] = (byte) tag;
        h[1] = (byte) (0x80 | bytes);
        for (int i = 0; i < bytes; i++) {
            h[2 + i] = (byte) (length >>> (8 * (bytes - 1 - i)));
        }
        return h;
    }

    /** Fails unless {@code key} is the private half of {@code cert}'s public key (signs and verifies a nonce). */
    static void requireMatch(PrivateKey key, X509Certificate cert, String keySetting, Path keyFile, String certSetting,
            Path certFile) {
        String alg = switch (key.getAlgorithm().toUpperCase(Locale.ROOT)) {
            case "RSA" -> "SHA256withRSA";
            case "EC" -> "SHA256withECDSA";
            case "ED25519", "ED448", "EDDSA" -> key.getAlgorithm();
            default -> null;
        };
        if (alg == null) {
            return;
        }
        boolean matches;
        try {
            byte[] nonce = new byte[32];
            new SecureRandom().nextBytes(nonce);
            Signature s = Signature.getInstance(alg);
            s.initSign(key);
            s.update(nonce);
            byte[] sig = s.sign();
            Signature v = Signature.getInstance(alg);
            v.initVerify(cert.getPublicKey());
            v.update(nonce);
            matches = v.verify(sig);
        } catch (GeneralSecurityException e) {
            matches = false;
        }
        if (!matches) {
            throw new IllegalArgumentException(keySetting + ": the key in " + keyFile + " does not belong to the "
                    + "certificate in " + certSetting + " " + certFile + " (" + cert.getSubjectX500Principal() + ")");
        }
    }

    /** Key managers presenting {@code chain} with {@code key}. */
    static KeyManagerFactory keyManagers(PrivateKey key, List<X509Certificate> chain) {
        try {
            char[] transientPassword = new char[0];
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("pgha", key, transientPassword, chain.toArray(new X509Certificate[0]));
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, transientPassword);
            return kmf;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot build a key manager from the certificate and key: " + e, e);
        }
    }

    /** Trust managers that accept what the certificates of {@code caFile} signed (and nothing else). */
    static TrustManagerFactory trustManagers(Path caFile, String setting) {
        List<X509Certificate> cas = certificates(caFile, setting);
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            for (int i = 0; i < cas.size(); i++) {
                ks.setCertificateEntry("ca-" + i, cas.get(i));
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ks);
            return tmf;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot build a trust manager from " + caFile + ": " + e, e);
        }
    }
}
