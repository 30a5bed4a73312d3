package io.pgha.core.spi.http;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;

/**
 * One HTTP/1.1 connection to one endpoint over a blocking socket (TLS layered on it when the endpoint is https):
 * writes a request, reads the answer's head and body (Content-Length, chunked, or up to the end of the connection).
 *
 * <p>Every read from the network, the TLS handshake's included, waits at most until the connection's deadline: the
 * plain socket under the TLS layer sets its read timeout to the time left before each read, so an answer that trickles
 * in byte by byte still ends at the deadline. A streamed body (an etcd watch) reads with no deadline once its head
 * arrived.
 *
 * <p>One caller at a time uses a connection; {@link #close()} may come from any thread and makes a read blocked in
 * another one fail at once (blocking socket reads ignore interrupts: closing is the way to stop them).
 */
final class HttpConnection implements Closeable {

    /** The head of an answer: its status and how its body ends. {@code contentLength} is -1 when not given. */
    record Head(int status, long contentLength, boolean chunked, boolean keepAlive) {

        /** The body runs until the server closes the connection. */
        boolean untilClose() {
            return !chunked && contentLength < 0;
        }
    }

    /** A head larger than this is not an answer we asked for. */
    private static final int MAX_HEAD_BYTES = 64 * 1024;

    private final DeadlineSocket raw;
    private final InputStream in;
    private final OutputStream out;
    private final byte[] buf = new byte[8192];
    private int pos;
    private int lim;
    /** Whether any byte of the current answer arrived (an empty reply on a kept connection means it was stale). */
    private boolean answerStarted;
    private volatile boolean closed;

    private HttpConnection(DeadlineSocket raw, Socket socket) throws IOException {
        this.raw = raw;
        this.in = socket.getInputStream();
        this.out = socket.getOutputStream();
    }

    /**
     * Connects to {@code endpoint} (its port, or the scheme's default) and, with {@code tls}, completes the TLS
     * handshake, verifying the server's name. Nothing of a request has left when this fails.
     *
     * @param connectMillis the longest wait for the TCP connection
     * @param deadline      a {@link System#nanoTime()} by which the handshake must be over
     */
    static HttpConnection open(URI endpoint, SSLSocketFactory tls, int connectMillis, long deadline)
            throws IOException {
        DeadlineSocket raw = new DeadlineSocket();
        try {
            raw.setTcpNoDelay(true);
            String host = endpoint.getHost();
            String bare = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
            int port = endpoint.getPort() >= 0 ? endpoint.getPort() : tls != null ? 443 : 80;
            raw.connect(new InetSocketAddress(bare, port), Math.max(1, connectMillis));
            raw.deadline(deadline);
            if (tls == null) {
                return new HttpConnection(raw, raw);
            }
            SSLSocket ssl = (SSLSocket) tls.createSocket(raw, bare, port, true);
            SSLParameters p = ssl.getSSLParameters();
            p.setEndpointIdentificationAlgorithm("HTTPS");
            SNIHostName sni = sniName(bare);
            if (sni != null) {
                p.setServerNames(List.of(sni));
            }
            ssl.setSSLParameters(p);
            ssl.startHandshake();
            return new HttpConnection(raw, ssl);
        } catch (IOException e) {
            raw.close();
            throw e;
        } catch (RuntimeException e) {
            // Nothing was sent either: the caller treats it as any other failure to connect.
            raw.close();
            throw new IOException("cannot connect to " + endpoint + ": " + e, e);
        }
    }

    /** The name to send as SNI: none for an address, nor for a name SNI cannot carry (e.g. with an underscore). */
    private static SNIHostName sniName(String host) {
        if (host.contains(":") || host.chars().allMatch(ch -> ch == '.' || (ch >= '0' && ch <= '9'))) {
            return null;
        }
        try {
            return new SNIHostName(host);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    boolean answerStarted() {
        return answerStarted;
    }

    /** Writes {@code request} in one write; the answer must arrive by {@code deadline} (a nanoTime). */
    void send(byte[] request, long deadline) throws IOException {
        answerStarted = false;
        raw.deadline(deadline);
        out.write(request);
        out.flush();
    }

    /** Reads the head of the answer (skipping interim 1xx heads). */
    Head readHead() throws IOException {
        int budget = MAX_HEAD_BYTES;
        while (true) {
            String statusLine = readLine(budget);
            budget -= statusLine.length() + 2;
            if (!statusLine.startsWith("HTTP/1.") || statusLine.length() < 12) {
                throw new IOException("not an HTTP/1.x answer: " + abbreviate(statusLine));
            }
            int status;
            try {
                status = Integer.parseInt(statusLine.substring(9, 12));
            } catch (NumberFormatException e) {
                throw new IOException("bad HTTP status line: " + abbreviate(statusLine), e);
            }
            boolean keepAlive = statusLine.startsWith("HTTP/1.1");
            long length = -1;
            boolean chunked = false;
            for (String line = readLine(budget); !line.isEmpty(); line = readLine(budget)) {
                budget -= line.length() + 2;
                int colon = line.indexOf(':');
                if (colon <= 0) {
                    continue;
                }
                String name = line.substring(0, colon).trim().toLowerCase(Locale.ROOT);
                String value = line.substring(colon + 1).trim().toLowerCase(Locale.ROOT);
                switch (name) {
                    case "content-length" -> length = parseLength(value);
                    case "transfer-encoding" -> chunked = value.endsWith("chunked");
                    case "connection" -> keepAlive = value.contains("keep-alive")
                            || (keepAlive && !value.contains("close"));
                    default -> { }
                }
            }
            if (status >= 100 && status < 200) {
                continue;
            }
            if (status == 204 || status == 304) {
                length = 0;
                chunked = false;
            }
            Head h = new Head(status, chunked ? -1 : length, chunked, keepAlive);
            return h.untilClose() ? new Head(status, -1, false, false) : h;
        }
    }

    /** Reads the whole body of an answer. */
    byte[] readBody(Head head) throws IOException {
        InputStream body = new Body(head, false);
        ByteArrayOutputStream all = new ByteArrayOutputStream(
                head.contentLength() >= 0 ? (int) Math.min(head.contentLength(), 1 << 20) : 512);
        byte[] b = new byte[4096];
        for (int n = body.read(b); n >= 0; n = body.read(b)) {
            all.write(b, 0, n);
        }
        return all.toByteArray();
    }

    /** Reads at most {@code limit} bytes of the body (an error's explanation), leaving the rest. */
    byte[] readSome(Head head, int limit) throws IOException {
        return new Body(head, false).readNBytes(limit);
    }

    /**
     * The body as a stream that reads with no deadline, returns what has arrived without waiting for more, and closes
     * this connection when it is closed.
     */
    InputStream stream(Head head) throws IOException {
        raw.noDeadline();
        return new Body(head, true);
    }

    /**
     * Whether a kept connection was closed by the server while idle: a read of at most 1 ms sees its end (or a
     * reset, or bytes nobody asked for) at once; a live connection has nothing to say and times out.
     */
    boolean closedWhileIdle() {
        try {
            raw.deadline(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1));
            in.read();
            // The end of the connection, or bytes nobody asked for: either way not a connection to send on.
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true;
        }
    }

    /** Whether nothing arrived beyond the answers read: bytes nobody asked for make a connection unfit to keep. */
    boolean drained() {
        return pos == lim;
    }

    boolean isClosed() {
        return closed;
    }

    /** Closes the socket (the TLS layer with it, without a close_notify: nothing is left to say on it). */
    @Override
    public void close() {
        closed = true;
        try {
            raw.close();
        } catch (IOException e) {
            // closing anyway
        }
    }

    private static long parseLength(String value) throws IOException {
        try {
            long n = Long.parseLong(value);
            if (n < 0) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IOException("bad Content-Length: " + abbreviate(value), e);
        }
    }

    private int fill() throws IOException {
        pos = 0;
        lim = 0;
        int n = in.read(buf, 0, buf.length);
        if (n > 0) {
            lim = n;
            answerStarted = true;
        }
        return n;
    }

    /** One line of a head or of the chunk framing, without its CRLF. */
    private String readLine(int limit) throws IOException {
        StringBuilder sb = new StringBuilder(64);
        while (true) {
            if (pos == lim && fill() < 0) {
                throw new EOFException(answerStarted ? "the connection ended inside an answer's head"
                        : "the connection ended without an answer");
            }
            byte b = buf[pos++];
            if (b == '\n') {
                int len = sb.length();
                if (len > 0 && sb.charAt(len - 1) == '\r') {
                    sb.setLength(len - 1);
                }
                return sb.toString();
            }
            if (sb.length() >= limit) {
                throw new IOException("the head of the answer is larger than " + MAX_HEAD_BYTES + " bytes");
            }
            sb.append((char) (b & 0xff));
        }
    }

    private static String abbreviate(String s) {
        return s.length() > 100 ? s.substring(0, 100) + "..." : s;
    }

    /** A body: de-chunked, or bounded by its length, or up to the end of the connection. */
    private final class Body extends InputStream {
        private final boolean chunked;
        private final boolean closesConnection;
        /** Bytes left in the current chunk, or in the whole body; -1 when the body runs until the connection ends. */
        private long left;
        private boolean firstChunk = true;
        private boolean done;

        Body(Head head, boolean closesConnection) {
            this.chunked = head.chunked();
            this.closesConnection = closesConnection;
            this.left = chunked ? 0 : head.contentLength();
            this.done = !chunked && left == 0;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            if (done) {
                return -1;
            }
            if (chunked && left == 0) {
                left = nextChunk();
                if (left == 0) {
                    // The last chunk; skip any trailer up to the empty line that ends the body.
                    while (!readLine(MAX_HEAD_BYTES).isEmpty()) {
                        // a trailer field: no caller needs one
                    }
                    done = true;
                    return -1;
                }
            }
            if (pos == lim && fill() < 0) {
                if (left < 0) {
                    done = true;
                    return -1;
                }
                throw new EOFException("the connection ended inside an answer's body");
            }
            int n = Math.min(len, lim - pos);
            if (left >= 0) {
                n = (int) Math.min(n, left);
                left -= n;
                done = !chunked && left == 0;
            }
            System.arraycopy(buf, pos, b, off, n);
            pos += n;
            return n;
        }

        @Override
        public int available() {
            return done ? 0 : left < 0 ? lim - pos : (int) Math.min(lim - pos, left);
        }

        private long nextChunk() throws IOException {
            if (!firstChunk && !readLine(2).isEmpty()) {
                throw new IOException("bad chunked body: no CRLF after a chunk");
            }
            firstChunk = false;
            String line = readLine(1024);
            int semi = line.indexOf(';');
            String size = (semi >= 0 ? line.substring(0, semi) : line).trim();
            try {
                long n = Long.parseLong(size, 16);
                if (n < 0) {
                    throw new NumberFormatException();
                }
                return n;
            } catch (NumberFormatException e) {
                throw new IOException("bad chunk size: " + abbreviate(line), e);
            }
        }

        @Override
        public void close() {
            if (closesConnection) {
                HttpConnection.this.close();
            }
        }
    }

    /**
     * The plain socket: before each read, its timeout becomes the time left before the deadline. The TLS layer reads
     * through {@link #getInputStream()} too, so the handshake and every TLS record are bounded alike.
     */
    private static final class DeadlineSocket extends Socket {
        private volatile long deadline;
        private volatile boolean bounded;
        private InputStream wrapped;

        void deadline(long nanoTime) {
            deadline = nanoTime;
            bounded = true;
        }

        void noDeadline() {
            bounded = false;
        }

        @Override
        public synchronized InputStream getInputStream() throws IOException {
            if (wrapped == null) {
                wrapped = new FilterInputStream(super.getInputStream()) {
                    @Override
                    public int read() throws IOException {
                        applyDeadline();
                        return super.read();
                    }

                    @Override
                    public int read(byte[] b, int off, int len) throws IOException {
                        applyDeadline();
                        return super.read(b, off, len);
                    }
                };
            }
            return wrapped;
        }

        private void applyDeadline() throws IOException {
            if (!bounded) {
                setSoTimeout(0);
                return;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new SocketTimeoutException("deadline passed");
            }
            // Rounded up: a timeout of 0 would mean forever.
            setSoTimeout((int) Math.min(Integer.MAX_VALUE, Math.max(1, (left + 999_999) / 1_000_000)));
        }
    }
}
