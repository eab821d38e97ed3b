package admin_test

import (
	"context"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupProtocolAndAssignor: a classic group of Kafka consumers, whose
// protocol type is "consumer", is listed with group protocol "classic" and
// its assignor; a KIP-848 group as "consumer".
func TestGroupProtocolAndAssignor(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("work", 2))
	produce(t, c, &kgo.Record{Topic: "work", Partition: 0, Value: []byte("x")}, &kgo.Record{Topic: "work", Partition: 1, Value: []byte("y")})
	join := func(group string, opts ...kgo.Opt) {
		cl := c.Client(t, append([]kgo.Opt{kgo.ConsumerGroup(group), kgo.ConsumeTopics("work"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		for n := 0; n < 2 && ctx.Err() == nil; {
			n += cl.PollFetches(ctx).NumRecords()
		}
		if ctx.Err() != nil {
			t.Fatalf("%s read nothing within 30s", group)
		}
	}
	join("classic-readers")
	join("new-readers", kgo.ServerSideBalancer(), kgo.Balancers(kgo.RangeBalancer()))
	srv := serve(t, c)
	var list struct{ Groups []admin.Group }
	if code := get(t, srv, "/kafka/groups", "", &list); code != 200 {
		t.Fatalf("status %d", code)
	}
	got := map[string]string{}
	for _, g := range list.Groups {
		got[g.Name] = g.ProtocolType + "/" + g.GroupProtocol
	}
	if got["classic-readers"] != "consumer/classic" || got["new-readers"] != "consumer/consumer" && got["new-readers"] != "/consumer" {
		t.Errorf("groups %v, want classic-readers consumer/classic and new-readers of group protocol consumer", got)
	}
	for _, tc := range []struct{ group, protocol, assignor string }{
		{"classic-readers", "classic", "cooperative-sticky"},
		{"new-readers", "consumer", "range"},
	} {
		var d admin.GroupDetail
		if code := get(t, srv, "/kafka/groups/"+tc.group, "", &d); code != 200 {
			t.Fatalf("%s: status %d", tc.group, code)
		}
		if d.GroupProtocol != tc.protocol || d.Assignor != tc.assignor {
			t.Errorf("%s: protocol %q, assignor %q, want %q, %q", tc.group, d.GroupProtocol, d.Assignor, tc.protocol, tc.assignor)
		}
	}
}
