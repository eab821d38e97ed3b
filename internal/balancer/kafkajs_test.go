package balancer_test

import (
	"encoding/hex"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kafkakit/kafkakit/internal/balancer"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The bytes kafkajs 2.2.4 writes, from its assignerProtocol:
// MemberMetadata.encode({version: 0, topics: ["orders", "users"]}) and
// MemberAssignment.encode({version: 0, assignment: {orders: [0, 2], users: [1]}}).
const (
	kafkajsMetadata   = "00000000000200066f72646572730005757365727300000000"
	kafkajsAssignment = "00000000000200066f726465727300000002000000000000000200057573657273000000010000000100000000"
)

func TestKafkajsRoundRobinWireFormat(t *testing.T) {
	b := balancer.KafkajsRoundRobin()
	if got := b.ProtocolName(); got != "RoundRobinAssigner" {
		t.Errorf("ProtocolName() = %q, want RoundRobinAssigner", got)
	}
	if b.IsCooperative() {
		t.Error("IsCooperative() = true, want false: kafkajs rebalances eagerly")
	}
	if got := hex.EncodeToString(b.JoinGroupMetadata([]string{"orders", "users"}, nil, 7)); got != kafkajsMetadata {
		t.Errorf("JoinGroupMetadata = %s, want kafkajs's %s", got, kafkajsMetadata)
	}

	raw, _ := hex.DecodeString(kafkajsAssignment)
	got, err := b.ParseSyncAssignment(raw)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string][]int32{"orders": {0, 2}, "users": {1}}, got); diff != "" {
		t.Errorf("ParseSyncAssignment(kafkajs) (-want +got):\n%s", diff)
	}
	got, err = b.ParseSyncAssignment(nil)
	if err != nil || len(got) != 0 {
		t.Errorf("ParseSyncAssignment(empty) = %v, %v; want no partitions, no error", got, err)
	}
}

func TestKafkajsRoundRobinBalance(t *testing.T) {
	meta, _ := hex.DecodeString(kafkajsMetadata)
	own := balancer.KafkajsRoundRobin().JoinGroupMetadata([]string{"orders", "users"}, nil, 0)
	onlyUsers := balancer.KafkajsRoundRobin().JoinGroupMetadata([]string{"users"}, nil, 0)
	tests := []struct {
		name    string
		members []kmsg.JoinGroupResponseMember
		want    map[string]map[string][]int32
	}{
		{
			name: "kafkajs and kafkakit members, as kafkajs deals them",
			members: []kmsg.JoinGroupResponseMember{
				{MemberID: "kafkakit-b", ProtocolMetadata: own},
				{MemberID: "interop-a", ProtocolMetadata: meta},
			},
			want: map[string]map[string][]int32{
				"interop-a":  {"orders": {0, 2}, "users": {1}},
				"kafkakit-b": {"orders": {1}, "users": {0, 2}},
			},
		},
		{
			name: "a member skips a topic it does not subscribe to",
			members: []kmsg.JoinGroupResponseMember{
				{MemberID: "a", ProtocolMetadata: onlyUsers},
				{MemberID: "b", ProtocolMetadata: own},
			},
			want: map[string]map[string][]int32{
				"a": {"users": {0, 2}},
				"b": {"orders": {0, 1, 2}, "users": {1}},
			},
		},
		{
			name: "more members than partitions: the last gets an empty assignment",
			members: []kmsg.JoinGroupResponseMember{
				{MemberID: "a", ProtocolMetadata: meta}, {MemberID: "b", ProtocolMetadata: meta},
				{MemberID: "c", ProtocolMetadata: meta}, {MemberID: "d", ProtocolMetadata: meta},
				{MemberID: "e", ProtocolMetadata: meta}, {MemberID: "f", ProtocolMetadata: meta},
				{MemberID: "g", ProtocolMetadata: meta},
			},
			want: map[string]map[string][]int32{
				"a": {"orders": {0}}, "b": {"orders": {1}}, "c": {"orders": {2}},
				"d": {"users": {0}}, "e": {"users": {1}}, "f": {"users": {2}}, "g": {},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, balance(t, tt.members)); diff != "" {
				t.Errorf("assignment (-want +got):\n%s", diff)
			}
		})
	}
}

// balance runs the balancer as a group leader would and decodes each
// member's assignment as a kafkajs member would read it.
func balance(t *testing.T, members []kmsg.JoinGroupResponseMember) map[string]map[string][]int32 {
	t.Helper()
	b := balancer.KafkajsRoundRobin()
	mb, topics, err := b.MemberBalancer(members)
	if err != nil {
		t.Fatal(err)
	}
	parts := map[string]int32{}
	for topic := range topics {
		parts[topic] = 3
	}
	got := map[string]map[string][]int32{}
	plan, err := mb.(kgo.GroupMemberBalancerOrError).BalanceOrError(parts)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range plan.IntoSyncAssignment() {
		var dec kmsg.ConsumerMemberAssignment
		if err := dec.ReadFrom(a.MemberAssignment); err != nil {
			t.Fatalf("member %s: %v", a.MemberID, err)
		}
		if dec.Version != 0 || dec.UserData == nil {
			t.Errorf("member %s: version %d, user data %v; want kafkajs's version 0 and empty user data", a.MemberID, dec.Version, dec.UserData)
		}
		got[a.MemberID] = map[string][]int32{}
		for _, tp := range dec.Topics {
			got[a.MemberID][tp.Topic] = tp.Partitions
		}
	}
	return got
}
