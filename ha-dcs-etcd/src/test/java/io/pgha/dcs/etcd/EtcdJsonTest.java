package io.pgha.dcs.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The gateway's JSON quirks, on answers captured from etcd 3.4.23 (Debian) through its v3 gateway with curl (except
 * the {@code grpc_code} stream-error shape, which is the gRPC gateway's documented format for errors inside a
 * streamed response). No server: these are the shapes the adapter must read and write.
 */
class EtcdJsonTest {

    private static JsonNode json(String s) throws Exception {
        return EtcdJson.MAPPER.readTree(s);
    }

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void releasesThatCanEndLeasesEarlyWhenTheirLeaderStallsAreNamed() {
        // etcd-io/etcd#15247: the last of its fixes came in 3.4.38, 3.5.23 and 3.6.5.
        for (String affected : List.of("3.4.23", "3.4.37", "3.5.0-alpha.0", "3.5.22", "3.6.4", "3.3.27")) {
            assertThat(EtcdJson.leaseRevocationWarning(affected)).as(affected)
                    .contains("etcd server " + affected + " can end leases early")
                    .contains("etcd-io/etcd#15247").contains("3.4.38, 3.5.23, 3.6.5");
        }
        for (String fixed : List.of("3.4.38", "3.4.44", "3.5.23", "3.5.32", "3.6.5", "3.7.0", "4.0.0")) {
            assertThat(EtcdJson.leaseRevocationWarning(fixed)).as(fixed).isNull();
        }
        for (String unreadable : List.of("", "?", "3.4", "v3.x.y")) {
            assertThat(EtcdJson.leaseRevocationWarning(unreadable)).as("'" + unreadable + "'").isNull();
        }
        assertThat(EtcdJson.leaseRevocationWarning(null)).isNull();
    }

    @Test
    void int64FieldsArriveAsStringsAndAbsentMeansZero() throws Exception {
        JsonNode grant = json("{\"header\":{\"cluster_id\":\"2755613793311995676\",\"revision\":\"1\"},"
                + "\"ID\":\"1879586634598988294\",\"TTL\":\"5\"}");
        assertThat(EtcdJson.int64(grant, "ID")).isEqualTo(1879586634598988294L);
        assertThat(EtcdJson.int64(grant, "TTL")).isEqualTo(5);
        assertThat(EtcdJson.revision(grant)).isEqualTo(1);
        assertThat(EtcdJson.int64(json("{\"n\":42}"), "n")).as("a number is accepted too").isEqualTo(42);
        assertThat(EtcdJson.int64(json("{}"), "count")).as("proto3 omits zero").isZero();
        assertThatThrownBy(() -> EtcdJson.int64(json("{\"revision\":\"x1\"}"), "revision"))
                .hasMessageContaining("'revision' is not an int64");
        assertThatThrownBy(() -> EtcdJson.int64(json("{\"ID\":\"18446744073709551615\"}"), "ID"))
                .as("a uint64 beyond long is refused, not wrapped").hasMessageContaining("'ID'");
    }

    @Test
    void aFailedTxnHasNoSucceededFieldAndCarriesTheFailureBranch() throws Exception {
        JsonNode failed = json("{\"header\":{\"revision\":\"6\"},\"responses\":[{\"response_range\":{\"header\":{},"
                + "\"kvs\":[{\"key\":\"" + b64("/svc/leader") + "\",\"create_revision\":\"5\",\"mod_revision\":\"6\","
                + "\"version\":\"2\",\"value\":\"" + b64("node1") + "\",\"lease\":\"7587869466424468483\"}],"
                + "\"count\":\"1\"}}]}");
        EtcdJson.TxnResult t = EtcdJson.txnResult(failed);
        assertThat(t.succeeded()).isFalse();
        assertThat(t.revision()).isEqualTo(6);
        EtcdJson.Kv kv = t.rangeKvs(0).get(0);
        assertThat(kv.key()).isEqualTo("/svc/leader");
        assertThat(new String(kv.value(), StandardCharsets.UTF_8)).isEqualTo("node1");
        assertThat(kv.createRevision()).isEqualTo(5);
        assertThat(kv.modRevision()).isEqualTo(6);
        assertThat(kv.version()).isEqualTo(2);
        assertThat(kv.lease()).isEqualTo(7587869466424468483L);

        JsonNode ok = json("{\"header\":{\"revision\":\"7\"},\"succeeded\":true,\"responses\":[{\"response_put\":"
                + "{\"header\":{\"revision\":\"7\"}}}]}");
        assertThat(EtcdJson.txnResult(ok).succeeded()).isTrue();
        assertThat(EtcdJson.txnResult(ok).rangeKvs(0)).as("no range in that branch").isEmpty();
        assertThat(EtcdJson.txnResult(json("{\"header\":{\"revision\":\"7\"}}")).rangeKvs(3)).isEmpty();
    }

    @Test
    void anEmptyRangeHasNoKvsAndAKeyWithoutLeaseHasLeaseZero() throws Exception {
        assertThat(EtcdJson.kvs(json("{\"header\":{\"revision\":\"2\"}}"))).isEmpty();
        List<EtcdJson.Kv> kvs = EtcdJson.kvs(json("{\"kvs\":[{\"key\":\"L2s=\",\"create_revision\":\"2\","
                + "\"mod_revision\":\"2\",\"version\":\"1\"}],\"count\":\"1\"}"));
        assertThat(kvs.get(0).key()).isEqualTo("/k");
        assertThat(kvs.get(0).lease()).isZero();
        assertThat(kvs.get(0).value()).as("an empty value is omitted").isEmpty();
    }

    @Test
    void aKeepaliveForAGoneLeaseIsA200WithoutTtl() throws Exception {
        JsonNode alive = json("{\"result\":{\"header\":{\"revision\":\"3\"},\"ID\":\"1879586634598988294\","
                + "\"TTL\":\"5\"}}");
        JsonNode gone = json("{\"result\":{\"header\":{\"revision\":\"3\"},\"ID\":\"1879586634598988294\"}}");
        assertThat(EtcdJson.keepaliveTtl(alive)).isEqualTo(5);
        assertThat(EtcdJson.keepaliveTtl(gone)).isZero();
        assertThat(EtcdJson.error(gone)).isNull();
    }

    @Test
    void aGrantWithoutIdOrTtlIsRefused() throws Exception {
        EtcdJson.Grant g = EtcdJson.grant(json("{\"ID\":\"1879586634606276891\",\"TTL\":\"30\"}"));
        assertThat(g.id()).isEqualTo(1879586634606276891L);
        assertThat(g.ttlSeconds()).isEqualTo(30);
        assertThatThrownBy(() -> EtcdJson.grant(json("{\"ID\":\"5\",\"error\":\"etcdserver: too many requests\"}")))
                .hasMessageContaining("no usable lease").hasMessageContaining("too many requests");
    }

    @Test
    void leaseFieldsAreUpperCaseAndInt64AreSentAsStrings() {
        assertThat(EtcdJson.leaseGrant(30).toString()).isEqualTo("{\"TTL\":\"30\"}");
        assertThat(EtcdJson.leaseId(1879586634598988294L).toString()).isEqualTo("{\"ID\":\"1879586634598988294\"}");
        ObjectNode put = EtcdJson.put("/svc/leader", "a".getBytes(StandardCharsets.UTF_8), 42);
        assertThat(put.toString())
                .isEqualTo("{\"key\":\"" + b64("/svc/leader") + "\",\"value\":\"YQ==\",\"lease\":\"42\"}");
        assertThat(EtcdJson.put("/k", new byte[0], 0).has("lease")).as("no lease: field left out").isFalse();
    }

    @Test
    void comparesNameTheirTargetAndField() {
        assertThat(EtcdJson.absent("/k").toString())
                .isEqualTo("{\"target\":\"CREATE\",\"key\":\"L2s=\",\"result\":\"EQUAL\",\"create_revision\":\"0\"}");
        assertThat(EtcdJson.modRevision("/k", 9).toString())
                .isEqualTo("{\"target\":\"MOD\",\"key\":\"L2s=\",\"result\":\"EQUAL\",\"mod_revision\":\"9\"}");
        assertThat(EtcdJson.valueEquals("/k", "a".getBytes(StandardCharsets.UTF_8)).toString())
                .isEqualTo("{\"target\":\"VALUE\",\"key\":\"L2s=\",\"result\":\"EQUAL\",\"value\":\"YQ==\"}");
        assertThat(EtcdJson.leaseEquals("/k", 7).toString())
                .isEqualTo("{\"target\":\"LEASE\",\"key\":\"L2s=\",\"result\":\"EQUAL\",\"lease\":\"7\"}");
        ObjectNode txn = EtcdJson.txn(List.of(EtcdJson.absent("/k")), List.of(), List.of());
        assertThat(txn.get("success").isArray()).isTrue();
        assertThat(txn.get("failure").size()).isZero();
    }

    @Test
    void aPrefixRangeEndsAtThePrefixWithItsLastByteIncremented() {
        ObjectNode r = EtcdJson.rangePrefix("/service/orders/");
        assertThat(new String(Base64.getDecoder().decode(r.get("range_end").asText()), StandardCharsets.UTF_8))
                .isEqualTo("/service/orders0");
        assertThat(EtcdJson.prefixEnd(new byte[] {'a', (byte) 0xff})).containsExactly('b');
        assertThat(EtcdJson.prefixEnd(new byte[] {(byte) 0xff, (byte) 0xff})).as("to the end of the key space")
                .containsExactly(0);
    }

    @Test
    void aPutWatchEventHasNoTypeAndADeleteSaysSo() throws Exception {
        JsonNode created = json("{\"result\":{\"header\":{\"revision\":\"6\"},\"created\":true}}");
        EtcdJson.WatchMessage c = EtcdJson.watchMessage(created);
        assertThat(c.created()).isTrue();
        assertThat(c.events()).isEmpty();
        assertThat(c.revision()).isEqualTo(6);

        JsonNode events = json("{\"result\":{\"header\":{\"revision\":\"8\"},\"events\":[{\"kv\":{\"key\":\"L3c=\","
                + "\"create_revision\":\"2\",\"mod_revision\":\"7\",\"version\":\"4\",\"value\":\"djQ=\"}},"
                + "{\"type\":\"DELETE\",\"kv\":{\"key\":\"L3c=\",\"mod_revision\":\"8\"}}]}}");
        EtcdJson.WatchMessage m = EtcdJson.watchMessage(events);
        assertThat(m.created()).isFalse();
        assertThat(m.events()).hasSize(2);
        assertThat(m.events().get(0).delete()).as("a PUT carries no type").isFalse();
        assertThat(m.events().get(0).kv().modRevision()).isEqualTo(7);
        assertThat(m.events().get(1).delete()).isTrue();
        assertThat(m.events().get(1).kv().modRevision()).isEqualTo(8);
    }

    @Test
    void aCompactedWatchIsCancelledWithTheCompactRevision() throws Exception {
        // The header of this message has no revision at all.
        JsonNode n = json("{\"result\":{\"header\":{\"cluster_id\":\"2755613793311995676\",\"raft_term\":\"2\"},"
                + "\"canceled\":true,\"compact_revision\":\"5\"}}");
        EtcdJson.WatchMessage m = EtcdJson.watchMessage(n);
        assertThat(m.canceled()).isTrue();
        assertThat(m.compactRevision()).isEqualTo(5);
        assertThat(m.revision()).isZero();
        assertThat(EtcdJson.watchMessage(json("{\"error\":{\"grpc_code\":14,\"message\":\"no leader\"}}"))).isNull();
    }

    @Test
    void aWatchWithARejectedTokenIsCreatedAndCancelledInOneMessage() throws Exception {
        JsonNode n = json("{\"result\":{\"header\":{\"revision\":\"1\"},\"watch_id\":\"-1\",\"created\":true,"
                + "\"canceled\":true,\"cancel_reason\":\"rpc error: code = Unauthenticated desc = etcdserver: "
                + "invalid auth token\"}}");
        EtcdJson.WatchMessage m = EtcdJson.watchMessage(n);
        assertThat(m.created()).isTrue();
        assertThat(m.canceled()).isTrue();
        assertThat(m.compactRevision()).isZero();
        assertThat(m.cancelReason()).contains("invalid auth token");
    }

    @Test
    void errorsComeInTwoShapes() throws Exception {
        EtcdJson.Error unary = EtcdJson.error(json("{\"error\":\"etcdserver: requested lease not found\","
                + "\"message\":\"etcdserver: requested lease not found\",\"code\":5}"));
        assertThat(unary.code()).isEqualTo(5);
        assertThat(unary.leaseNotFound()).isTrue();
        EtcdJson.Error stream = EtcdJson.error(json("{\"error\":{\"grpc_code\":16,\"http_code\":401,"
                + "\"message\":\"etcdserver: invalid auth token\",\"http_status\":\"Unauthorized\"}}"));
        assertThat(stream.code()).isEqualTo(16);
        assertThat(stream.tokenRejected()).isTrue();
        assertThat(EtcdJson.error(json("{\"error\":\"etcdserver: permission denied\",\"message\":"
                + "\"etcdserver: permission denied\",\"code\":7}")).permissionDenied()).isTrue();
        assertThat(EtcdJson.error(json("{\"error\":\"etcdserver: user name is empty\",\"message\":"
                + "\"etcdserver: user name is empty\",\"code\":3}")).tokenMissing()).isTrue();
        assertThat(EtcdJson.error(json("{\"error\":\"etcdserver: no leader\",\"code\":14}")).unavailable()).isTrue();
        assertThat(EtcdJson.error(json("{\"header\":{}}"))).isNull();
    }

    @Test
    void theApiPrefixFollowsTheClusterVersion() throws Exception {
        assertThat(EtcdJson.apiPrefixFor(json("{\"etcdserver\":\"3.4.23\",\"etcdcluster\":\"3.4.0\"}")))
                .isEqualTo("/v3");
        assertThat(EtcdJson.apiPrefixFor(json("{\"etcdserver\":\"3.5.9\",\"etcdcluster\":\"3.5.0\"}")))
                .isEqualTo("/v3");
        assertThat(EtcdJson.apiPrefixFor(json("{\"etcdserver\":\"3.3.27\",\"etcdcluster\":\"3.3.0\"}")))
                .isEqualTo("/v3beta");
        assertThat(EtcdJson.apiPrefixFor(json("{\"etcdserver\":\"3.4.23\",\"etcdcluster\":\"not_decided\"}")))
                .as("a cluster still starting").isNull();
        assertThatThrownBy(() -> EtcdJson.apiPrefixFor(json("{\"etcdserver\":\"3.2.32\",\"etcdcluster\":\"3.2.0\"}")))
                .hasMessageContaining("3.2.0 is not supported");
    }

    @Test
    void keysAndValuesAreBase64AndBadBase64IsNamed() throws Exception {
        assertThat(EtcdJson.watchCreate("/svc/leader", false, 12).toString())
                .isEqualTo("{\"create_request\":{\"key\":\"" + b64("/svc/leader") + "\",\"start_revision\":\"12\"}}");
        assertThat(EtcdJson.watchCreate("/svc/members/", true, 0).toString()).as("a prefix, from now")
                .isEqualTo("{\"create_request\":{\"key\":\"" + b64("/svc/members/") + "\",\"range_end\":\""
                        + b64("/svc/members0") + "\"}}");
        assertThatThrownBy(() -> EtcdJson.kv(json("{\"key\":\"%%%\"}")))
                .hasMessageContaining("'key' is not valid base64");
    }
}
