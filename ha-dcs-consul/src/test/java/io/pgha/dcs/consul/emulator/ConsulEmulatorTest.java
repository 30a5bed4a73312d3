package io.pgha.dcs.consul.emulator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgha.dcs.consul.emulator.RawConsul.Answer;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Base64;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Pins the emulator to Consul's documented HTTP API, so the adapter's tests rest on the behaviour of Consul and not
 * on the emulator's accidents. Each case names the Consul rule it checks.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ConsulEmulatorTest {

    private static final Duration SLACK = Duration.ofSeconds(2);

    private final Deque<AutoCloseable> opened = new ArrayDeque<>();

    @AfterEach
    void closeAll() throws Exception {
        while (!opened.isEmpty()) {
            opened.pop().close();
        }
    }

    private ConsulEmulator emulator(ConsulEmulator.Builder b) {
        ConsulEmulator e = b.start();
        opened.push(e);
        return e;
    }

    private static RawConsul raw(ConsulEmulator e) {
        return new RawConsul(e.url(), null);
    }

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes());
    }

    // ------------------------------------------------------------------------------------------------ sessions

    @Test
    void sessionTtlOutsideTenSecondsToOneDayIsRefused() {
        RawConsul c = raw(emulator(ConsulEmulator.builder()));
        Answer tooShort = c.put("/v1/session/create", "{\"TTL\": \"5s\"}");
        assertThat(tooShort.status()).isEqualTo(500);
        assertThat(tooShort.body()).contains("Invalid Session TTL '5000000000'").contains("[10s=24h0m0s]");
        assertThat(c.put("/v1/session/create", "{\"TTL\": \"86401s\"}").status()).isEqualTo(500);
        assertThat(c.put("/v1/session/create", "{\"TTL\": \"ten\"}").body()).contains("invalid");
        assertThat(c.put("/v1/session/create", "{\"TTL\": \"10s\"}").status()).isEqualTo(200);
        assertThat(c.put("/v1/session/create", "{\"TTL\": \"24h\"}").status()).isEqualTo(200);
    }

    @Test
    void aSessionLivesTwiceItsTtlAfterTheLastRenewal() {
        ConsulEmulator e = emulator(ConsulEmulator.builder().sessionTtlMin(Duration.ofSeconds(1)));
        RawConsul c = raw(e);
        long before = System.nanoTime();
        String s = c.createSession("{\"TTL\": \"1s\", \"Behavior\": \"delete\", \"LockDelay\": \"1ms\"}");
        long after = System.nanoTime();
        assertThat(c.put("/v1/kv/a/k?acquire=" + s, "x").bool()).isTrue();

        await().atMost(Duration.ofSeconds(2).plus(SLACK)).pollInterval(Duration.ofMillis(20))
                .until(() -> c.get("/v1/kv/a/k").status() == 404);
        long goneAt = System.nanoTime();
        // Consul's contract is "not before the TTL"; its implementation (and the emulator's default) waits TTL x 2.
        assertThat(Duration.ofNanos(goneAt - before)).isGreaterThanOrEqualTo(Duration.ofSeconds(2));
        assertThat(Duration.ofNanos(goneAt - after)).isLessThanOrEqualTo(Duration.ofSeconds(2).plus(SLACK));
        assertThat(c.get("/v1/session/info/" + s).json()).isEmpty();
    }

    @Test
    void aMultiplierOfOneEndsTheSessionAtItsTtl() {
        ConsulEmulator e = emulator(ConsulEmulator.builder().sessionTtlMin(Duration.ofSeconds(1))
                .sessionTtlMultiplier(1));
        RawConsul c = raw(e);
        long before = System.nanoTime();
        String s = c.createSession("{\"TTL\": \"1s\"}");
        await().atMost(Duration.ofSeconds(1).plus(SLACK)).pollInterval(Duration.ofMillis(20))
                .until(() -> c.get("/v1/session/info/" + s).json().isEmpty());
        assertThat(Duration.ofNanos(System.nanoTime() - before)).isGreaterThanOrEqualTo(Duration.ofSeconds(1));
    }

    @Test
    void renewalRestartsTheTimerAndAnswers404OnceTheSessionIsGone() {
        ConsulEmulator e = emulator(ConsulEmulator.builder().sessionTtlMin(Duration.ofSeconds(1)));
        RawConsul c = raw(e);
        String s = c.createSession("{\"TTL\": \"1s\"}");
        // Renewed every 0.5 s, the session outlives several TTL x 2 windows.
        await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(500))
                .until(() -> c.put("/v1/session/renew/" + s, null).status() == 200);
        Answer renewed = c.put("/v1/session/renew/" + s, null);
        assertThat(renewed.json().get(0).get("ID").asText()).isEqualTo(s);
        assertThat(renewed.json().get(0).get("TTL").asText()).isEqualTo("1s");

        await().atMost(Duration.ofSeconds(2).plus(SLACK)).pollInterval(Duration.ofMillis(50))
                .until(() -> c.get("/v1/session/info/" + s).json().isEmpty());
        Answer gone = c.put("/v1/session/renew/" + s, null);
        assertThat(gone.status()).isEqualTo(404);
        assertThat(gone.body()).isEqualTo("Session id '" + s + "' not found");
    }

    @Test
    void createDefaultsAreConsuls() {
        ConsulEmulator e = emulator(ConsulEmulator.builder());
        RawConsul c = raw(e);
        String s = c.createSession("");
        JsonNode info = c.get("/v1/session/info/" + s).json().get(0);
        assertThat(info.get("Behavior").asText()).isEqualTo("release");
        assertThat(info.get("LockDelay").asLong()).isEqualTo(15_000_000_000L);
        assertThat(info.get("TTL").asText()).isEmpty();
        assertThat(info.get("NodeChecks").toString()).isEqualTo("[\"serfHealth\"]");
        assertThat(info.get("Node").asText()).isEqualTo("emulator-node");

        String noChecks = c.createSession("{\"checks\": [], \"lockdelay\": 5}");
        JsonNode i2 = c.get("/v1/session/info/" + noChecks).json().get(0);
        assertThat(i2.get("NodeChecks")).isEmpty();
        assertThat(i2.get("LockDelay").asLong()).as("a number under 1000 is read as seconds").isEqualTo(5_000_000_000L);

        assertThat(c.put("/v1/session/create", "{\"Bogus\": 1}").body()).contains("unknown field");
        assertThat(c.put("/v1/session/create", "{\"Behavior\": \"vanish\"}").body())
                .contains("Invalid Behavior setting");
        assertThat(c.put("/v1/session/create", "{\"Checks\": [\"mine\"]}").body())
                .contains("Missing check 'mine' registration");
        assertThat(c.put("/v1/session/destroy/" + s, null).bool()).isTrue();
        assertThat(c.put("/v1/session/destroy/" + s, null).bool()).as("destroy is idempotent").isTrue();
    }

    // ------------------------------------------------------------------------------------------------ locks

    @Test
    void acquireLocksOnceAndOnlyTheHolderUpdatesOrReleases() {
        RawConsul c = raw(emulator(ConsulEmulator.builder()));
        String a = c.createSession("{}");
        String b = c.createSession("{}");
        assertThat(c.put("/v1/kv/l?acquire=" + a, "one").bool()).isTrue();
        JsonNode e = c.get("/v1/kv/l").json().get(0);
        assertThat(e.get("LockIndex").asLong()).isEqualTo(1);
        assertThat(e.get("Session").asText()).isEqualTo(a);
        assertThat(e.get("CreateIndex").asLong()).isEqualTo(e.get("ModifyIndex").asLong());

        assertThat(c.put("/v1/kv/l?acquire=" + b, "two").bool()).as("held by another session").isFalse();
        assertThat(c.put("/v1/kv/l?acquire=" + a, "three").bool()).as("the holder updates").isTrue();
        JsonNode e2 = c.get("/v1/kv/l").json().get(0);
        assertThat(e2.get("LockIndex").asLong()).as("re-acquiring does not count as a new lock").isEqualTo(1);
        assertThat(c.get("/v1/kv/l").value()).isEqualTo("three");

        assertThat(c.put("/v1/kv/l?release=" + b, "x").bool()).as("release by a non-holder").isFalse();
        assertThat(c.put("/v1/kv/l?release=" + a, "released").bool()).isTrue();
        JsonNode e3 = c.get("/v1/kv/l").json().get(0);
        assertThat(e3.has("Session")).isFalse();
        assertThat(c.get("/v1/kv/l").value()).isEqualTo("released");
        assertThat(c.put("/v1/kv/l?acquire=" + b, "b").bool()).as("an explicit release sets no lock delay").isTrue();
        assertThat(c.get("/v1/kv/l").json().get(0).get("LockIndex").asLong()).isEqualTo(2);

        Answer invalid = c.put("/v1/kv/l2?acquire=00000000-0000-0000-0000-000000000000", "x");
        assertThat(invalid.status()).isEqualTo(500);
        assertThat(invalid.body()).contains("invalid session");
        Answer both = c.put("/v1/kv/l2?acquire=" + a + "&cas=0", "x");
        assertThat(both.status()).isEqualTo(400);
        assertThat(both.body()).startsWith("Conflicting flags");
    }

    @Test
    void aPlainWriteKeepsTheHolderAndAnUnchangedWriteKeepsTheIndex() {
        RawConsul c = raw(emulator(ConsulEmulator.builder()));
        String a = c.createSession("{}");
        assertThat(c.put("/v1/kv/p?acquire=" + a, "v").bool()).isTrue();
        assertThat(c.put("/v1/kv/p", "w").bool()).as("a plain PUT ignores the lock").isTrue();
        JsonNode e = c.get("/v1/kv/p").json().get(0);
        assertThat(e.get("Session").asText()).isEqualTo(a);
        long m = e.get("ModifyIndex").asLong();
        assertThat(c.put("/v1/kv/p", "w").bool()).isTrue();
        assertThat(c.get("/v1/kv/p").json().get(0).get("ModifyIndex").asLong()).isEqualTo(m);
    }

    @Test
    void lockDelayKeepsAnInvalidatedSessionsLocksFromBeingRetaken() {
        RawConsul c = raw(emulator(ConsulEmulator.builder()));
        String a = c.createSession("{\"Behavior\": \"delete\", \"LockDelay\": \"2s\"}");
        String b = c.createSession("{}");
        assertThat(c.put("/v1/kv/d?acquire=" + a, "a").bool()).isTrue();
        long destroyedAt = System.nanoTime();
        assertThat(c.put("/v1/session/destroy/" + a, null).bool()).isTrue();
        assertThat(c.get("/v1/kv/d").status()).as("Behavior=delete removed the key").isEqualTo(404);
        assertThat(c.put("/v1/kv/d?acquire=" + b, "b").bool()).as("inside the lock delay").isFalse();
        Answer txn = c.put("/v1/txn", "[{\"KV\": {\"Verb\": \"lock\", \"Key\": \"d\", \"Value\": \"" + b64("b")
                + "\", \"Session\": \"" + b + "\"}}]");
        assertThat(txn.status()).isEqualTo(409);
        assertThat(txn.json().get("Errors").get(0).get("What").asText()).contains("due to lock delay");
        assertThat(c.put("/v1/kv/d", "plain").bool()).as("a plain write is not a lock").isTrue();
        assertThat(c.delete("/v1/kv/d").bool()).isTrue();

        await().atMost(Duration.ofSeconds(2).plus(SLACK)).pollInterval(Duration.ofMillis(50))
                .until(() -> c.put("/v1/kv/d?acquire=" + b, "b").bool());
        assertThat(Duration.ofNanos(System.nanoTime() - destroyedAt)).isGreaterThanOrEqualTo(Duration.ofSeconds(2));
    }

    @Test
    void behaviorReleaseKeepsTheKeysWithoutAHolder() {
        RawConsul c = raw(emulator(ConsulEmulator.builder()));
        String a = c.createSession("{\"LockDelay\": \"1ms\"}");
        assertThat(c.put("/v1/kv/r?acquire=" + a, "a").bool()).isTrue();
        assertThat(c.put("/v1/session/destroy/" + a, null).bool()).isTrue();
        JsonNode e = c.get("/v1/kv/r").json().get(0);
        assertThat(e.has("Session")).isFalse();
        assertThat(e.get("LockIndex").asLong()).isEqualTo(1);
        assertThat(c.get("/v1/kv/r").value()).isEqualTo("a");
    }

    // ------------------------------------------------------------------------------------------------ CAS

    @Test
    void casZeroCreatesOnlyAndCasNMatchesTheModifyIndex() {
        RawConsul c = raw(emulator(ConsulEmulator.builder()));
        assertThat(c.put("/v1/kv/c?cas=0", "1").bool()).isTrue();
        assertThat(c.put("/v1/kv/c?cas=0", "2").bool()).as("cas=0 on an existing key").isFalse();
        long m = c.get("/v1/kv/c").json().get(0).get("ModifyIndex").asLong();
        assertThat(c.put("/v1/kv/c?cas=" + m, "3").bool()).isTrue();
        assertThat(c.put("/v1/kv/c?cas=" + m, "4").bool()).as("stale index").isFalse();
        assertThat(c.get("/v1/kv/c").value()).isEqualTo("3");
        assertThat(c.put("/v1/kv/missing?cas=" + m, "x").bool()).as("cas=N on a missing key").isFalse();

        long m2 = c.get("/v1/kv/c").json().get(0).get("ModifyIndex").asLong();
        assertThat(c.delete("/v1/kv/c?cas=" + m).bool()).as("delete with a stale index").isFalse();
        assertThat(c.delete("/v1/kv/c?cas=" + m2).bool()).isTrue();
        assertThat(c.delete("/v1/kv/c?cas=" + m2).bool()).as("Consul: a CAS delete of a missing key is true").isTrue();
        assertThat(c.delete("/v1/kv/c?cas=1&recurse").status()).isEqualTo(400);
    }

    @Test
    void transactionsAreAllOrNothingAndReportEveryFailure() {
        RawConsul c = raw(emulator(ConsulEmulator.builder()));
        String a = c.createSession("{}");
        String b = c.createSession("{}");
        String create = "[{\"KV\": {\"Verb\": \"check-not-exists\", \"Key\": \"t\"}},"
                + " {\"KV\": {\"Verb\": \"lock\", \"Key\": \"t\", \"Value\": \"" + b64("x") + "\", \"Session\": \"%s\"}}]";
        Answer ok = c.put("/v1/txn", create.formatted(a));
        assertThat(ok.status()).isEqualTo(200);
        assertThat(ok.json().get("Results").get(0).get("KV").get("Key").asText()).isEqualTo("t");
        assertThat(ok.json().get("Results").get(0).get("KV").get("Value").isNull()).isTrue();

        Answer lost = c.put("/v1/txn", create.formatted(b));
        assertThat(lost.status()).isEqualTo(409);
        JsonNode errors = lost.json().get("Errors");
        assertThat(errors).hasSize(2);
        assertThat(errors.get(0).get("What").asText()).isEqualTo("key \"t\" exists");
        assertThat(errors.get(1).get("What").asText()).contains("lock is already held");

        Answer rolledBack = c.put("/v1/txn", "[{\"KV\": {\"Verb\": \"set\", \"Key\": \"u\", \"Value\": \"" + b64("u")
                + "\"}}, {\"KV\": {\"Verb\": \"check-index\", \"Key\": \"t\", \"Index\": 999999}}]");
        assertThat(rolledBack.status()).isEqualTo(409);
        assertThat(c.get("/v1/kv/u").status()).as("nothing of a failed transaction is applied").isEqualTo(404);

        long m = c.get("/v1/kv/t").json().get(0).get("ModifyIndex").asLong();
        Answer del = c.put("/v1/txn", "[{\"KV\": {\"Verb\": \"check-index\", \"Key\": \"t\", \"Index\": " + m
                + "}}, {\"KV\": {\"Verb\": \"delete\", \"Key\": \"t\"}}]");
        assertThat(del.status()).isEqualTo(200);
        Answer missing = c.put("/v1/txn", "[{\"KV\": {\"Verb\": \"check-index\", \"Key\": \"t\", \"Index\": " + m
                + "}}, {\"KV\": {\"Verb\": \"delete\", \"Key\": \"t\"}}]");
        assertThat(missing.status()).as("check-index on a missing key fails, unlike DELETE ?cas").isEqualTo(409);
        assertThat(c.put("/v1/txn", "[{\"Node\": {}}]").status()).isEqualTo(400);
    }

    // ------------------------------------------------------------------------------------------------ blocking

    @Test
    void aBlockingQueryReturnsWhenTheKeyChanges() throws Exception {
        RawConsul c = raw(emulator(ConsulEmulator.builder()));
        assertThat(c.put("/v1/kv/w", "1").bool()).isTrue();
        Answer first = c.get("/v1/kv/w");
        long index = first.index();
        assertThat(index).isEqualTo(first.json().get(0).get("ModifyIndex").asLong());

        CompletableFuture<Answer> blocked = CompletableFuture.supplyAsync(
                () -> c.send("GET", "/v1/kv/w?index=" + index + "&wait=30s", null, Duration.ofSeconds(40)));
        assertThat(c.put("/v1/kv/other", "x").bool()).isTrue();
        assertThat(c.put("/v1/kv/w", "2").bool()).isTrue();
        Answer changed = blocked.get(10, TimeUnit.SECONDS);
        assertThat(changed.index()).isGreaterThan(index);
        assertThat(changed.value()).isEqualTo("2");
    }

    @Test
    void aBlockingQueryReturnsTheSameIndexWhenTheWaitRunsOut() {
        RawConsul c = raw(emulator(ConsulEmulator.builder()));
        assertThat(c.put("/v1/kv/w", "1").bool()).isTrue();
        long index = c.get("/v1/kv/w").index();
        long start = System.nanoTime();
        Answer same = c.get("/v1/kv/w?index=" + index + "&wait=1s");
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        assertThat(same.status()).isEqualTo(200);
        assertThat(same.index()).isEqualTo(index);
        assertThat(took).isGreaterThanOrEqualTo(Duration.ofSeconds(1))
                .as("wait plus at most wait/16 of jitter").isLessThan(Duration.ofMillis(1063).plus(SLACK));
    }

    @Test
    void aMissingKeyAnswers404WithANonZeroIndexAndCanBeWatched() throws Exception {
        RawConsul c = raw(emulator(ConsulEmulator.builder()));
        Answer none = c.get("/v1/kv/nothing");
        assertThat(none.status()).isEqualTo(404);
        assertThat(none.index()).isGreaterThanOrEqualTo(1);
        CompletableFuture<Answer> blocked = CompletableFuture.supplyAsync(() -> c.send("GET",
                "/v1/kv/nothing?index=" + none.index() + "&wait=30s", null, Duration.ofSeconds(40)));
        assertThat(c.put("/v1/kv/nothing", "now").bool()).isTrue();
        assertThat(blocked.get(10, TimeUnit.SECONDS).status()).isEqualTo(200);
    }

    @Test
    void aRecursiveReadsIndexIsTheNewestChangeUnderThePrefixDeletionsIncluded() {
        RawConsul c = raw(emulator(ConsulEmulator.builder()));
        assertThat(c.put("/v1/kv/p/a", "a").bool()).isTrue();
        assertThat(c.put("/v1/kv/p/b", "b").bool()).isTrue();
        assertThat(c.put("/v1/kv/q", "q").bool()).isTrue();
        Answer list = c.get("/v1/kv/p/?recurse");
        assertThat(list.json()).hasSize(2);
        assertThat(list.index()).isEqualTo(list.json().get(1).get("ModifyIndex").asLong());
        assertThat(c.delete("/v1/kv/p/b").bool()).isTrue();
        Answer after = c.get("/v1/kv/p/?recurse");
        assertThat(after.json()).hasSize(1);
        assertThat(after.index()).as("the tombstone of p/b counts").isGreaterThan(list.index());
        assertThat(c.get("/v1/kv/p/?keys").json().toString()).isEqualTo("[\"p/a\"]");
        assertThat(c.get("/v1/kv/zz/?recurse").status()).isEqualTo(404);
    }

    // ------------------------------------------------------------------------------------------------ ACL, errors

    @Test
    void aclsRefuseMissingAndUnknownTokens() {
        ConsulEmulator e = emulator(ConsulEmulator.builder().aclToken("s3cret"));
        RawConsul ok = new RawConsul(e.url(), "s3cret");
        RawConsul anonymous = raw(e);
        RawConsul wrong = new RawConsul(e.url(), "guess");
        assertThat(ok.put("/v1/kv/x/y", "1").bool()).isTrue();

        assertThat(anonymous.put("/v1/kv/x/y", "2").status()).isEqualTo(403);
        assertThat(anonymous.get("/v1/kv/x/y").status()).isEqualTo(403);
        Answer list = anonymous.get("/v1/kv/x/?recurse");
        assertThat(list.status()).as("a list is filtered, not refused").isEqualTo(404);
        assertThat(list.headers().firstValue("X-Consul-Results-Filtered-By-ACLs")).contains("true");
        Answer txn = anonymous.put("/v1/txn", "[{\"KV\": {\"Verb\": \"delete\", \"Key\": \"x/y\"}}]");
        assertThat(txn.status()).isEqualTo(409);
        assertThat(txn.body()).contains("Permission denied");
        assertThat(anonymous.put("/v1/session/create", "{}").status()).isEqualTo(403);

        Answer unknown = wrong.get("/v1/kv/x/?recurse");
        assertThat(unknown.status()).isEqualTo(403);
        assertThat(unknown.body()).isEqualTo("ACL not found");
        assertThat(anonymous.get("/v1/kv/x/y?token=s3cret").status()).as("?token= works too").isEqualTo(200);
    }

    @Test
    void malformedRequestsAreRefusedAsConsulRefusesThem() {
        RawConsul c = raw(emulator(ConsulEmulator.builder()));
        assertThat(c.get("/v1/kv/").status()).isEqualTo(400);
        assertThat(c.put("/v1/kv/", "x").body()).contains("Missing key name");
        assertThat(c.put("/v1/kv//lead", "x").status()).as("a key starting with '/'").isEqualTo(400);
        assertThat(c.get("/v1/kv/a?stale&consistent").status()).isEqualTo(400);
        Answer dc = c.get("/v1/kv/a?dc=elsewhere");
        assertThat(dc.status()).isEqualTo(500);
        assertThat(dc.body()).contains("No path to datacenter");
        assertThat(c.send("POST", "/v1/session/create", "{}", Duration.ofSeconds(5)).status()).isEqualTo(405);
        assertThat(c.get("/v1/kv/a?index=abc").status()).isEqualTo(400);
    }

    // ------------------------------------------------------------------------------------------------ fault hooks

    @Test
    void aRestartKeepsDataAndSessionsAndRestartsTheirTimers() {
        ConsulEmulator e = emulator(ConsulEmulator.builder().sessionTtlMin(Duration.ofSeconds(1)));
        RawConsul c = raw(e);
        String s = c.createSession("{\"TTL\": \"1s\", \"Behavior\": \"delete\"}");
        assertThat(c.put("/v1/kv/k?acquire=" + s, "v").bool()).isTrue();
        int port = e.port();
        e.stop();
        assertThatThrownBy(() -> c.get("/v1/kv/k")).isInstanceOf(UncheckedIOException.class);
        // Without a running server no timer fires: the session outlives TTL x 2 while the server is down.
        await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(100))
                .until(() -> e.session(s).isPresent());
        long restartedAt = System.nanoTime();
        e.restart();
        assertThat(e.port()).isEqualTo(port);
        assertThat(c.get("/v1/kv/k").json().get(0).get("Session").asText()).isEqualTo(s);
        await().atMost(Duration.ofSeconds(2).plus(SLACK)).pollInterval(Duration.ofMillis(20))
                .until(() -> c.get("/v1/kv/k").status() == 404);
        assertThat(Duration.ofNanos(System.nanoTime() - restartedAt)).as("a full TTL x 2 after the restart")
                .isGreaterThanOrEqualTo(Duration.ofSeconds(2));
    }

    @Test
    void aGracefulAgentLeaveEndsEverySessionOfItsNode() {
        ConsulEmulator e = emulator(ConsulEmulator.builder());
        RawConsul c = raw(e);
        String plain = c.createSession("{\"Checks\": [], \"Behavior\": \"delete\"}");
        String serf = c.createSession("{\"Behavior\": \"delete\"}");
        assertThat(c.put("/v1/kv/a?acquire=" + plain, "a").bool()).isTrue();
        assertThat(e.agentLeave()).isEqualTo(2);
        assertThat(c.get("/v1/kv/a").status()).isEqualTo(404);
        assertThat(e.sessionIds()).doesNotContain(plain, serf);
    }

    @Test
    void aCriticalSerfHealthCheckEndsOnlySessionsThatDependOnIt() {
        ConsulEmulator e = emulator(ConsulEmulator.builder());
        RawConsul c = raw(e);
        String plain = c.createSession("{\"Checks\": []}");
        String serf = c.createSession("{}");
        assertThat(e.serfHealthCritical()).isEqualTo(1);
        assertThat(e.sessionIds()).containsExactly(plain);
        assertThat(c.put("/v1/session/renew/" + serf, null).status()).isEqualTo(404);
    }

    // ------------------------------------------------------------------------------------------------ observation

    @Test
    void everyAnsweredRequestIsToldWithItsQueryAsSentItsClientAndItsStatus() {
        List<ConsulEmulator.Request> seen = new CopyOnWriteArrayList<>();
        RawConsul c = raw(emulator(ConsulEmulator.builder().onRequest(seen::add)));
        assertThat(c.put("/v1/kv/s/config?cas=0", "a").bool()).isTrue();
        assertThat(c.get("/v1/kv/s/?recurse=1").status()).isEqualTo(200);
        assertThat(c.delete("/v1/kv/s/config?cas=1&recurse").status()).isEqualTo(400);
        assertThat(c.get("/v1/kv/s%2Fmissing").status()).isEqualTo(404);

        // Told before the answer is sent: a client that has its answers finds its calls there already.
        assertThat(seen).extracting(ConsulEmulator.Request::method, ConsulEmulator.Request::uri,
                ConsulEmulator.Request::status).containsExactly(
                        tuple("PUT", "/v1/kv/s/config?cas=0", 200),
                        tuple("GET", "/v1/kv/s/?recurse=1", 200),
                        tuple("DELETE", "/v1/kv/s/config?cas=1&recurse", 400),
                        tuple("GET", "/v1/kv/s%2Fmissing", 404));
        assertThat(seen).allSatisfy(r -> assertThat(r.userAgent()).startsWith("Java-http-client/"));
    }
}
