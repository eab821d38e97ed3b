package balancer_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kafkakit/kafkakit/internal/balancer"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestColocatedBalance: partition p of a topic and of its retry topic go
// to one member; units are shared evenly; a member that leaves costs only
// its units, which the others take without giving up theirs; a member that
// joins gets its share only after the owners gave it up (cooperative: in
// this round it gets nothing, the owners keep what they keep).
func TestColocatedBalance(t *testing.T) {
	topics := []string{"t", "t-retry-100"}
	join := func(id string, owned map[string][]int32, generation int32) kmsg.JoinGroupResponseMember {
		return kmsg.JoinGroupResponseMember{MemberID: id,
			ProtocolMetadata: balancer.Colocated().JoinGroupMetadata(topics, owned, generation)}
	}
	both := func(ps ...int32) map[string][]int32 { return map[string][]int32{"t": ps, "t-retry-100": ps} }
	tests := []struct {
		name    string
		members []kmsg.JoinGroupResponseMember
		want    map[string]map[string][]int32
	}{{
		name:    "a new group",
		members: []kmsg.JoinGroupResponseMember{join("a", nil, -1), join("b", nil, -1), join("c", nil, -1)},
		want:    map[string]map[string][]int32{"a": both(0, 1), "b": both(2, 3), "c": both(4, 5)},
	}, {
		name:    "c left: a and b keep theirs and share c's",
		members: []kmsg.JoinGroupResponseMember{join("a", both(0, 1), 3), join("b", both(2, 3), 3)},
		want:    map[string]map[string][]int32{"a": both(0, 1, 4), "b": both(2, 3, 5)},
	}, {
		name:    "c joins: a and b give up one each first",
		members: []kmsg.JoinGroupResponseMember{join("a", both(0, 1, 4), 4), join("b", both(2, 3, 5), 4), join("c", nil, -1)},
		want:    map[string]map[string][]int32{"a": both(0, 1), "b": both(2, 3), "c": {}},
	}, {
		name:    "a stale claim of an older generation loses to the newest",
		members: []kmsg.JoinGroupResponseMember{join("a", both(0, 1, 2), 2), join("b", both(2, 3, 4, 5), 5)},
		want:    map[string]map[string][]int32{"a": both(0, 1), "b": both(2, 3, 4)}, // 5 moves to a next round
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := balancer.Colocated()
			mb, _, err := b.MemberBalancer(tt.members)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := mb.(kgo.GroupMemberBalancerOrError).BalanceOrError(map[string]int32{"t": 6, "t-retry-100": 6})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]map[string][]int32{}
			for _, a := range plan.IntoSyncAssignment() {
				parsed, err := b.ParseSyncAssignment(a.MemberAssignment)
				if err != nil {
					t.Fatal(err)
				}
				got[a.MemberID] = map[string][]int32{}
				for topic, ps := range parsed {
					if len(ps) > 0 {
						got[a.MemberID][topic] = ps
					}
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("assignment (-want +got):\n%s", diff)
			}
		})
	}
	if !balancer.Colocated().IsCooperative() || balancer.Colocated().ProtocolName() != balancer.ColocatedProtocol {
		t.Error("Colocated is not the cooperative kafkakit-colocated protocol")
	}
}
