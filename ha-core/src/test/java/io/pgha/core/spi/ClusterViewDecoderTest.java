package io.pgha.core.spi;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.Member;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The decoder's memo: a key read again unchanged is not decoded again, and any change is. */
class ClusterViewDecoderTest {

    private static final KeyLayout LAYOUT = KeyLayout.of("batman");
    private static final String MEMBER = "{\"conn_url\":\"postgres://10.0.0.2:5432/postgres\","
            + "\"api_url\":\"http://10.0.0.2:8008/patroni\",\"state\":\"running\",\"role\":\"replica\","
            + "\"xlog_location\":100,\"timeline\":3}";
    private static final String CONFIG = "{\"ttl\":30,\"loop_wait\":10,\"retry_timeout\":10}";

    @Test
    void aKeyReadAgainWithTheSameVersionAndBytesIsTheSameDecodedValue() {
        ClusterViewDecoder d = new ClusterViewDecoder(LAYOUT);
        ClusterView a = d.view(List.of(RawNode.of("members/m1", MEMBER, 5), RawNode.of("config", CONFIG, 6)));
        ClusterView b = d.view(List.of(RawNode.of("members/m1", MEMBER, 5), RawNode.of("config", CONFIG, 6)));
        assertThat(b.members().get("m1")).isSameAs(a.members().get("m1"));
        assertThat(b.config()).isSameAs(a.config());
        assertThat(b).isEqualTo(ClusterViewDecoder.decode(LAYOUT,
                List.of(RawNode.of("members/m1", MEMBER, 5), RawNode.of("config", CONFIG, 6))));
    }

    @Test
    void aNewVersionOrNewBytesAreDecodedAgain() {
        ClusterViewDecoder d = new ClusterViewDecoder(LAYOUT);
        Member first = d.view(List.of(RawNode.of("members/m1", MEMBER, 5))).members().get("m1");
        // Same bytes, new version (a rewrite with the same value): the version is part of the value.
        Member rewritten = d.view(List.of(RawNode.of("members/m1", MEMBER, 9))).members().get("m1");
        assertThat(rewritten.version()).isEqualTo(9);
        // Same version, other bytes (a store whose versions restart when a key is deleted and created again).
        Member recreated = d.view(List.of(RawNode.of("members/m1", MEMBER.replace("\"timeline\":3", "\"timeline\":4"),
                9))).members().get("m1");
        assertThat(recreated.timeline()).isEqualTo(4);
        assertThat(first.timeline()).isEqualTo(3);
    }

    @Test
    void anUndecodableValueIsReportedOnEveryReadAndAGoneKeyIsGoneFromTheView() {
        ClusterViewDecoder d = new ClusterViewDecoder(LAYOUT);
        List<RawNode> broken = List.of(RawNode.of("config", "{broken", 3), RawNode.of("members/m1", MEMBER, 4));
        assertThat(d.view(broken).problems()).hasSize(1);
        assertThat(d.view(broken).problems()).hasSize(1);
        assertThat(d.view(broken).undecodable()).containsEntry("config", 3L);
        ClusterView after = d.view(List.of(RawNode.of("config", CONFIG, 7)));
        assertThat(after.members()).isEmpty();
        assertThat(after.problems()).isEmpty();
        assertThat(after.config().ttl()).isPresent();
    }
}
