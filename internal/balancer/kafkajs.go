package balancer

import (
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// KafkajsRoundRobinProtocol is the group protocol name of kafkajs's default
// assigner (kafkajs 2.x, src/consumer/assigners/roundRobinAssigner).
const KafkajsRoundRobinProtocol = "RoundRobinAssigner"

// KafkajsRoundRobin returns a balancer that joins a group the way kafkajs's
// default RoundRobinAssigner does, so kafkajs members (the NestJS
// microservices transport among them) and kafkakit members can share one
// group in either leadership:
//
//   - It offers the protocol "RoundRobinAssigner" with kafkajs's version 0
//     member metadata: version, topics, empty user data.
//   - Leading, it sorts the members by member ID and deals the partitions,
//     ordered by topic and partition, round-robin to the members that
//     subscribe to each topic. With equal subscriptions that is kafkajs's
//     own assignment. Assignments are version 0 with empty user data, which
//     kafkajs decodes.
//   - Following, it accepts kafkajs's assignments, including the empty one
//     a kafkajs leader gives a member it assigns nothing.
//
// Rebalancing is eager, as in kafkajs: every member gives up all its
// partitions before a new assignment. A kafkajs leader assigns the topics
// it subscribes to itself, so every member of a mixed group should
// subscribe to the same topics.
func KafkajsRoundRobin() kgo.GroupBalancer { return kafkajsRoundRobin{} }

type kafkajsRoundRobin struct{}

func (kafkajsRoundRobin) ProtocolName() string { return KafkajsRoundRobinProtocol }

func (kafkajsRoundRobin) IsCooperative() bool { return false }

// JoinGroupMetadata encodes what kafkajs's MemberMetadata.encode writes:
// version 0, the topics, and empty (not null) user data.
func (kafkajsRoundRobin) JoinGroupMetadata(topics []string, _ map[string][]int32, _ int32) []byte {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 0
	meta.Topics = topics
	meta.UserData = []byte{}
	return meta.AppendTo(nil)
}

// ParseSyncAssignment reads a member assignment. A kafkajs leader sends no
// assignment at all to a member it gives no partitions, so empty means none.
func (kafkajsRoundRobin) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	if len(assignment) == 0 {
		return map[string][]int32{}, nil
	}
	return kgo.ParseConsumerSyncAssignment(assignment)
}

func (r kafkajsRoundRobin) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	b, err := kgo.NewConsumerBalancer(r, members)
	if err != nil {
		return nil, nil, fmt.Errorf("balancer: %s: %w", KafkajsRoundRobinProtocol, err)
	}
	return b, b.MemberTopics(), nil
}

// Balance deals the partitions round-robin over the members sorted by ID,
// skipping a member that does not subscribe to the partition's topic.
func (kafkajsRoundRobin) Balance(b *kgo.ConsumerBalancer, partitions map[string]int32) kgo.IntoSyncAssignment {
	type member struct {
		id     string
		topics []string
	}
	var members []member
	b.EachMember(func(m *kmsg.JoinGroupResponseMember, meta *kmsg.ConsumerMemberMetadata) {
		members = append(members, member{m.MemberID, meta.Topics})
	})
	slices.SortFunc(members, func(a, b member) int { return strings.Compare(a.id, b.id) })

	p := make(plan, len(members))
	for _, m := range members {
		p[m.id] = map[string][]int32{}
	}
	topics := make([]string, 0, len(partitions))
	for t := range b.MemberTopics() {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	next := 0
	for _, topic := range topics {
		for part := range partitions[topic] {
			// Some member subscribes to topic (MemberTopics says so), so
			// this walk ends within one round.
			for !slices.Contains(members[next].topics, topic) {
				next = (next + 1) % len(members)
			}
			p[members[next].id][topic] = append(p[members[next].id][topic], part)
			next = (next + 1) % len(members)
		}
	}
	return p
}

// plan is member ID -> topic -> partitions.
type plan map[string]map[string][]int32

// IntoSyncAssignment encodes each member's assignment as kafkajs's
// MemberAssignment.encode does: version 0, topics in order, empty user
// data. Every member gets one, even an empty one.
func (p plan) IntoSyncAssignment() []kmsg.SyncGroupRequestGroupAssignment {
	out := make([]kmsg.SyncGroupRequestGroupAssignment, 0, len(p))
	for id, assigned := range p {
		a := kmsg.ConsumerMemberAssignment{Version: 0, UserData: []byte{}}
		for topic, parts := range assigned {
			t := kmsg.NewConsumerMemberAssignmentTopic()
			t.Topic, t.Partitions = topic, parts
			a.Topics = append(a.Topics, t)
		}
		slices.SortFunc(a.Topics, func(x, y kmsg.ConsumerMemberAssignmentTopic) int { return strings.Compare(x.Topic, y.Topic) })
		s := kmsg.NewSyncGroupRequestGroupAssignment()
		s.MemberID, s.MemberAssignment = id, a.AppendTo(nil)
		out = append(out, s)
	}
	slices.SortFunc(out, func(x, y kmsg.SyncGroupRequestGroupAssignment) int { return strings.Compare(x.MemberID, y.MemberID) })
	return out
}
