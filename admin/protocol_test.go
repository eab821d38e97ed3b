package admin_test

import (
	"context"
	"fmt"
	"slices"
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
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatalf("%s: commit: %v", group, err)
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
			t.Fatalf("%s: status %d %+v", tc.group, code, d)
		}
		if d.GroupProtocol != tc.protocol || d.Assignor != tc.assignor {
			t.Errorf("%s: protocol %q, assignor %q, want %q, %q", tc.group, d.GroupProtocol, d.Assignor, tc.protocol, tc.assignor)
		}
		// One member, assigned both partitions, each read and committed
		// to its end.
		if d.Name != tc.group || d.ProtocolType != "consumer" || d.State != "Stable" || len(d.Members) != 1 ||
			!slices.Equal(d.Members[0].Assigned["work"], []int32{0, 1}) || len(d.Offsets) != 2 || d.Lag != 0 {
			t.Fatalf("%s: got %+v, want one stable member assigned work 0 and 1, two offsets and no lag", tc.group, d)
		}
		for i, o := range d.Offsets {
			if o.Topic != "work" || o.Partition != int32(i) || o.Committed != 1 || o.HighWatermark != 1 || o.Lag != 0 || o.Member != d.Members[0].MemberID {
				t.Errorf("%s: offset %d: got %+v, want work/%d committed 1 of 1 by %s", tc.group, i, o, i, d.Members[0].MemberID)
			}
		}
	}
	// A record not yet read is the KIP-848 group's lag.
	produce(t, c, &kgo.Record{Topic: "work", Partition: 0, Value: []byte("z")})
	var d admin.GroupDetail
	if code := get(t, srv, "/kafka/groups/new-readers", "", &d); code != 200 || d.Lag != 1 || len(d.Offsets) != 2 ||
		d.Offsets[0].HighWatermark != 2 || d.Offsets[0].Lag != 1 {
		t.Errorf("new-readers after one more record: got %d %+v, want lag 1 on work/0", code, d)
	}
}

// A KIP-848 group whose members have left keeps its committed offsets,
// which its detail shows, with no member.
func TestConsumerGroupEmpty(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("work", 2))
	produce(t, c, &kgo.Record{Topic: "work", Partition: 0, Value: []byte("x")}, &kgo.Record{Topic: "work", Partition: 1, Value: []byte("y")})
	cl := c.Client(t, kgo.ConsumerGroup("gone-readers"), kgo.ConsumeTopics("work"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.ServerSideBalancer())
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for n := 0; n < 2 && ctx.Err() == nil; {
		n += cl.PollFetches(ctx).NumRecords()
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	cl.Close()
	produce(t, c, &kgo.Record{Topic: "work", Partition: 1, Value: []byte("z")})
	srv := serve(t, c)
	var d admin.GroupDetail
	kafkatest.WaitFor(t, 10*time.Second, func() error {
		d = admin.GroupDetail{}
		if code := get(t, srv, "/kafka/groups/gone-readers", "", &d); code != 200 || d.State != "Empty" {
			return fmt.Errorf("status %d, state %q", code, d.State)
		}
		return nil
	})
	want := []admin.GroupOffset{
		{Topic: "work", Partition: 0, Committed: 1, HighWatermark: 1, Lag: 0},
		{Topic: "work", Partition: 1, Committed: 1, HighWatermark: 2, Lag: 1},
	}
	if d.GroupProtocol != "consumer" || len(d.Members) != 0 || !slices.Equal(d.Offsets, want) || d.Lag != 1 {
		t.Errorf("got %+v, want an empty KIP-848 group with offsets %+v and lag 1", d, want)
	}
}
