package admin

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Group is one consumer group in GET /kafka/groups, kafkakit's or not.
type Group struct {
	Name  string `json:"name"`
	State string `json:"state"`
	// ProtocolType is the group's protocol type as the broker reports it:
	// "consumer" for any group of Kafka consumers, of either protocol.
	ProtocolType string `json:"protocol_type"`
	// GroupProtocol is the group's protocol, as KAFKA_GROUP_PROTOCOL
	// names it: "classic", "consumer" (KIP-848) or "share" (KIP-932).
	// A broker too old to say (before ListGroups v5) has only classic
	// groups.
	GroupProtocol string `json:"group_protocol"`
}

// groupProtocol is a listed group's protocol, "classic" when the broker
// does not say.
func groupProtocol(g kadm.ListedGroup) string { return cmp.Or(g.GroupType, "classic") }

// GroupDetail is GET /kafka/groups/{group}.
type GroupDetail struct {
	Group
	// Assignor is the partition assignor the group uses (such as
	// cooperative-sticky, or uniform for a KIP-848 group); "" while it
	// has none, as an empty classic group.
	Assignor string   `json:"assignor"`
	Members  []Member `json:"members"`
	// Offsets has a row per partition the group has committed to or is
	// assigned, on topics the allowlist shows.
	Offsets []GroupOffset `json:"offsets"`
	// Lag is the sum of the rows' lag.
	Lag int64 `json:"lag"`
}

// Member is one member of a group and what it was assigned.
type Member struct {
	MemberID   string             `json:"member_id"`
	ClientID   string             `json:"client_id"`
	ClientHost string             `json:"client_host"`
	Assigned   map[string][]int32 `json:"assigned"`
}

// GroupOffset is a group's position in one partition. Committed is -1
// when the group has not committed there; Lag then counts from the
// partition's start.
type GroupOffset struct {
	Topic         string `json:"topic"`
	Partition     int32  `json:"partition"`
	Committed     int64  `json:"committed"`
	HighWatermark int64  `json:"high_watermark"`
	Lag           int64  `json:"lag"`
	Member        string `json:"member,omitempty"`
}

func (h *Handler) groups(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.timeout)
	defer cancel()
	out, err := h.listGroups(ctx)
	if err != nil {
		apicontract.WriteError(w, brokerError(err))
		return
	}
	apicontract.WriteJSON(w, http.StatusOK, map[string]any{"groups": out})
}

// listGroups is the cluster's groups, by name.
func (h *Handler) listGroups(ctx context.Context) ([]Group, error) {
	listed, err := h.adm.ListGroups(ctx)
	if err != nil {
		return nil, err
	}
	out := []Group{}
	for _, g := range listed.Sorted() {
		out = append(out, Group{Name: g.Group, State: g.State, ProtocolType: g.ProtocolType, GroupProtocol: groupProtocol(g)})
	}
	return out, nil
}

func (h *Handler) group(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("group")
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.timeout)
	defer cancel()
	listed, err := h.adm.ListGroups(ctx)
	if err != nil {
		apicontract.WriteError(w, brokerError(err))
		return
	}
	// A KIP-848 group is not described by DescribeGroups: Apache Kafka
	// answers GROUP_ID_NOT_FOUND for a group that is not classic.
	var d GroupDetail
	var found bool
	if g, ok := listed[name]; ok && groupProtocol(g) == "consumer" {
		d, found, err = h.consumerGroupDetail(ctx, name)
		// Every KIP-848 group is one of Kafka consumers, though a broker
		// may list it with no protocol type (kfake does).
		d.ProtocolType = cmp.Or(g.ProtocolType, "consumer")
	} else {
		d, found, err = h.classicGroupDetail(ctx, name)
		if ok {
			d.GroupProtocol = groupProtocol(g)
		}
	}
	switch {
	case err != nil:
		apicontract.WriteError(w, brokerError(err))
		return
	case !found:
		apicontract.WriteError(w, &apicontract.Error{Status: http.StatusNotFound, Code: apicontract.CodeNotFound, Field: "group", Message: "the cluster has no group " + strconv.Quote(name)})
		return
	}
	apicontract.WriteJSON(w, http.StatusOK, d)
}

// classicGroupDetail describes a group of the classic protocol, or one
// the listing did not name: its assignor is its described protocol.
// found is false when the cluster has no such group.
func (h *Handler) classicGroupDetail(ctx context.Context, name string) (d GroupDetail, found bool, err error) {
	lags, err := h.adm.Lag(ctx, name)
	var l kadm.DescribedGroupLag
	if err == nil {
		l = lags[name]
		err = l.Error()
	}
	switch {
	case errors.Is(err, kerr.GroupIDNotFound) || err == nil && l.State == "Dead" && len(l.Lag) == 0:
		return d, false, nil
	case err != nil:
		return d, false, err
	}
	d = h.groupDetail(l)
	d.GroupProtocol, d.Assignor = "classic", l.Protocol
	return d, true, nil
}

// consumerGroupDetail describes a KIP-848 group through
// ConsumerGroupDescribe, its committed offsets and its partitions'
// offsets, with the lag counted as kadm counts a classic group's. A
// broker may name an assigned topic by its ID alone (kfake does), so
// names are looked up by ID where missing. found is false when the
// cluster has no such group.
func (h *Handler) consumerGroupDetail(ctx context.Context, name string) (d GroupDetail, found bool, err error) {
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{name}
	resp, err := req.RequestWith(ctx, h.cl)
	if err != nil {
		return d, false, err
	}
	i := slices.IndexFunc(resp.Groups, func(g kmsg.ConsumerGroupDescribeResponseGroup) bool { return g.Group == name })
	if i < 0 {
		return d, false, nil
	}
	g := resp.Groups[i]
	if err := kerr.ErrorForCode(g.ErrorCode); errors.Is(err, kerr.GroupIDNotFound) {
		return d, false, nil
	} else if err != nil {
		return d, false, err
	}
	byID, err := h.topicNamesByID(ctx, g)
	if err != nil {
		return d, false, err
	}
	committed, err := h.adm.FetchOffsets(ctx, name)
	if err != nil {
		return d, false, err
	}
	if err := committed.Error(); err != nil {
		return d, false, err
	}
	if g.State == "Dead" && len(g.Members) == 0 && len(committed) == 0 {
		return d, false, nil
	}
	d = GroupDetail{Group: Group{Name: name, State: g.State, GroupProtocol: "consumer"}, Assignor: g.AssignorName, Members: []Member{}, Offsets: []GroupOffset{}}
	var owner map[string]map[int32]string
	d.Members, owner = h.consumerGroupMembers(g, byID)
	d.Offsets, d.Lag, err = h.consumerGroupOffsets(ctx, owner, committed)
	if err != nil {
		return d, false, err
	}
	return d, true, nil
}

// topicNamesByID maps topic IDs to names when a member's assignment names
// a topic by its ID alone; nil when none does.
func (h *Handler) topicNamesByID(ctx context.Context, g kmsg.ConsumerGroupDescribeResponseGroup) (map[kadm.TopicID]string, error) {
	var byID map[kadm.TopicID]string
	for _, m := range g.Members {
		for _, tp := range m.Assignment.TopicPartitions {
			if tp.Topic == "" && byID == nil {
				topics, err := h.adm.ListTopics(ctx)
				if err != nil {
					return nil, err
				}
				byID = map[kadm.TopicID]string{}
				for _, t := range topics {
					byID[t.ID] = t.Topic
				}
			}
		}
	}
	return byID, nil
}

// consumerGroupMembers lists g's members with the partitions assigned to
// them, and which member owns each topic's partition.
func (h *Handler) consumerGroupMembers(g kmsg.ConsumerGroupDescribeResponseGroup, byID map[kadm.TopicID]string) (members []Member, owner map[string]map[int32]string) {
	members = []Member{}
	owner = map[string]map[int32]string{} // topic, partition: the member assigned it
	for _, m := range g.Members {
		mem := Member{MemberID: m.MemberID, ClientID: m.ClientID, ClientHost: m.ClientHost, Assigned: map[string][]int32{}}
		for _, tp := range m.Assignment.TopicPartitions {
			t := cmp.Or(tp.Topic, byID[tp.TopicID])
			if t == "" || !h.allowed(t) {
				continue
			}
			mem.Assigned[t] = slices.Sorted(slices.Values(tp.Partitions))
			if owner[t] == nil {
				owner[t] = map[int32]string{}
			}
			for _, p := range tp.Partitions {
				owner[t][p] = m.MemberID
			}
		}
		members = append(members, mem)
	}
	return members, owner
}

// consumerGroupOffsets gives a row for every partition assigned or
// committed, with its lag, and the lag's total.
func (h *Handler) consumerGroupOffsets(ctx context.Context, owner map[string]map[int32]string, committed kadm.OffsetResponses) (offsets []GroupOffset, total int64, err error) {
	offsets = []GroupOffset{}
	rows := map[string]map[int32]int64{} // topic, partition: the committed offset, or -1
	for t, ps := range owner {
		rows[t] = map[int32]int64{}
		for p := range ps {
			rows[t][p] = -1
		}
	}
	committed.Each(func(o kadm.OffsetResponse) {
		if o.Err != nil || !h.allowed(o.Topic) {
			return
		}
		if rows[o.Topic] == nil {
			rows[o.Topic] = map[int32]int64{}
		}
		rows[o.Topic][o.Partition] = o.At
	})
	if len(rows) == 0 {
		return offsets, 0, nil
	}
	topics := slices.Sorted(maps.Keys(rows))
	starts, err := h.adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, 0, err
	}
	ends, err := h.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, 0, err
	}
	for _, t := range topics {
		for _, p := range slices.Sorted(maps.Keys(rows[t])) {
			o := GroupOffset{Topic: t, Partition: p, Committed: rows[t][p], Lag: -1, Member: owner[t][p]}
			if end, ok := ends.Lookup(t, p); ok && end.Err == nil {
				o.HighWatermark = end.Offset
				o.Lag = lag(o.Committed, starts, end)
			}
			total += max(o.Lag, 0)
			offsets = append(offsets, o)
		}
	}
	return offsets, total, nil
}

// lag is how far committed is behind end, counted as kadm counts it: from
// the partition's start when nothing is committed, and never below 0.
func lag(committed int64, starts kadm.ListedOffsets, end kadm.ListedOffset) int64 {
	from := int64(0)
	if start, ok := starts.Lookup(end.Topic, end.Partition); ok && start.Err == nil {
		from = start.Offset
	}
	if committed >= 0 {
		from = committed
	}
	return max(end.Offset-from, 0)
}

func (h *Handler) groupDetail(l kadm.DescribedGroupLag) GroupDetail {
	d := GroupDetail{Group: Group{Name: l.Group, State: l.State, ProtocolType: l.ProtocolType}, Members: []Member{}, Offsets: []GroupOffset{}}
	for _, m := range l.Members {
		mem := Member{MemberID: m.MemberID, ClientID: m.ClientID, ClientHost: m.ClientHost, Assigned: map[string][]int32{}}
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range c.Topics {
				if h.allowed(t.Topic) {
					mem.Assigned[t.Topic] = slices.Sorted(slices.Values(t.Partitions))
				}
			}
		}
		d.Members = append(d.Members, mem)
	}
	for _, row := range l.Lag.Sorted() {
		if !h.allowed(row.Topic) {
			continue
		}
		o := GroupOffset{Topic: row.Topic, Partition: row.Partition, Committed: row.Commit.At, HighWatermark: row.End.Offset, Lag: row.Lag}
		if !row.IsEmpty() {
			o.Member = row.Member.MemberID
		}
		d.Lag += max(o.Lag, 0)
		d.Offsets = append(d.Offsets, o)
	}
	return d
}
