package balancer

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ColocatedProtocol is the group protocol name of [Colocated].
const ColocatedProtocol = "kafkakit-colocated"

// Colocated returns a cooperative balancer that gives partition number p
// of every topic the group consumes to one member: a topic and its retry
// topics, which have its partition count, are consumed side by side, as
// key parking needs. The unit it assigns is a partition number, with all
// the topics that have it:
//
//   - Sticky: a unit stays with the member that owns it (the one that
//     owns most of its partitions, claims of the newest generation
//     first), as long as the member does not hold more than its share.
//   - Balanced: each member gets the number of units divided by the
//     members, or one more; units over a member's share and units nobody
//     owns go, lowest first, to the members below their share, in member
//     ID order.
//   - Cooperative: a unit that moves is first taken from its owner in one
//     rebalance and given to its new member in the next, as in KIP-429; the
//     others keep consuming throughout. A member that leaves or crashes
//     costs only the units it held.
//
// Every member of the group must offer it; a group whose members offer it
// and the range assigner runs range (eager) until all offer it. Topics
// with few partitions make the low units heavier than the others.
func Colocated() kgo.GroupBalancer { return colocated{} }

type colocated struct{}

func (colocated) ProtocolName() string { return ColocatedProtocol }

func (colocated) IsCooperative() bool { return true }

// JoinGroupMetadata is the consumer protocol's version 2 metadata: the
// topics, the partitions owned (for the cooperative protocol) and the
// generation they were owned in.
func (colocated) JoinGroupMetadata(topics []string, owned map[string][]int32, generation int32) []byte {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 2
	meta.Topics = topics
	meta.Generation = generation
	for _, topic := range slices.Sorted(maps.Keys(owned)) {
		o := kmsg.NewConsumerMemberMetadataOwnedPartition()
		o.Topic, o.Partitions = topic, owned[topic]
		meta.OwnedPartitions = append(meta.OwnedPartitions, o)
	}
	return meta.AppendTo(nil)
}

func (colocated) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	return kgo.ParseConsumerSyncAssignment(assignment)
}

func (c colocated) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	b, err := kgo.NewConsumerBalancer(c, members)
	if err != nil {
		return nil, nil, fmt.Errorf("balancer: %s: %w", ColocatedProtocol, err)
	}
	return b, b.MemberTopics(), nil
}

// colocatedMember is a member as the balancer sees it.
type colocatedMember struct {
	m      *kmsg.JoinGroupResponseMember
	topics []string
	units  []int32 // planned
	cap    int
}

// colocatedClaim is a member's claim on a partition it owned.
type colocatedClaim struct {
	member     int
	generation int32
}

// Balance assigns the partition numbers, as Colocated says.
func (colocated) Balance(b *kgo.ConsumerBalancer, partitions map[string]int32) kgo.IntoSyncAssignment {
	members, claims := colocatedMembers(b)
	plan := b.NewPlan()
	if len(members) == 0 {
		return plan
	}
	units := int32(0)
	for _, n := range partitions {
		units = max(units, n)
	}
	shareUnits(members, unitOwners(claims, units, len(members)))
	placeUnits(plan, members, partitions)
	plan.AdjustCooperative(b)
	return plan
}

// colocatedMembers lists the group's members and, per topic and
// partition, the newest claim on it.
func colocatedMembers(b *kgo.ConsumerBalancer) ([]*colocatedMember, map[string]map[int32]colocatedClaim) {
	var members []*colocatedMember
	claims := map[string]map[int32]colocatedClaim{} // topic -> partition -> newest claim
	b.EachMember(func(m *kmsg.JoinGroupResponseMember, meta *kmsg.ConsumerMemberMetadata) {
		i := len(members)
		members = append(members, &colocatedMember{m: m, topics: meta.Topics})
		for _, o := range meta.OwnedPartitions {
			if claims[o.Topic] == nil {
				claims[o.Topic] = map[int32]colocatedClaim{}
			}
			for _, p := range o.Partitions {
				if old, ok := claims[o.Topic][p]; !ok || meta.Generation > old.generation {
					claims[o.Topic][p] = colocatedClaim{i, meta.Generation}
				}
			}
		}
	})
	return members, claims
}

// unitOwners gives the owner of each unit: the member with the newest
// claims on most of its partitions, the lower index on a tie; -1 for none.
func unitOwners(claims map[string]map[int32]colocatedClaim, units int32, nMembers int) []int {
	owner := make([]int, units)
	for u := range units {
		count := make([]int, nMembers)
		for _, byPart := range claims {
			if c, ok := byPart[u]; ok {
				count[c.member]++
			}
		}
		owner[u] = -1
		for i, n := range count {
			if n > 0 && (owner[u] < 0 || n > count[owner[u]]) {
				owner[u] = i
			}
		}
	}
	return owner
}

// shareUnits plans each member's units: the members that own the most keep
// the larger shares, so that as few units as possible move.
func shareUnits(members []*colocatedMember, owner []int) {
	owned := make([][]int32, len(members))
	for u, i := range owner {
		if i >= 0 {
			owned[i] = append(owned[i], int32(u))
		}
	}
	base, extra := len(owner)/len(members), len(owner)%len(members)
	byOwned := make([]int, len(members))
	for i := range byOwned {
		byOwned[i] = i
	}
	slices.SortStableFunc(byOwned, func(a, b int) int { return cmp.Compare(len(owned[b]), len(owned[a])) })
	for rank, i := range byOwned {
		members[i].cap = base
		if rank < extra {
			members[i].cap++
		}
	}
	var free []int32
	for i, m := range members {
		keep := min(len(owned[i]), m.cap)
		m.units = owned[i][:keep]
		free = append(free, owned[i][keep:]...)
	}
	for u, i := range owner {
		if i < 0 {
			free = append(free, int32(u))
		}
	}
	slices.Sort(free)
	for _, m := range members { // in member ID order, as EachMember gives them
		for len(m.units) < m.cap && len(free) > 0 {
			m.units, free = append(m.units, free[0]), free[1:]
		}
	}
}

// placeUnits adds partition u of every topic to the member planned for
// unit u, or, when it does not consume the topic, to the first that does.
func placeUnits(plan *kgo.BalancePlan, members []*colocatedMember, partitions map[string]int32) {
	topics := slices.Sorted(maps.Keys(partitions))
	for _, m := range members {
		for _, u := range m.units {
			for _, topic := range topics {
				if u >= partitions[topic] {
					continue
				}
				to := m
				if !slices.Contains(m.topics, topic) {
					i := slices.IndexFunc(members, func(o *colocatedMember) bool { return slices.Contains(o.topics, topic) })
					if i < 0 {
						continue
					}
					to = members[i]
				}
				plan.AddPartition(to.m, topic, u)
			}
		}
	}
}
