package admin

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
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
	lags, err := h.adm.Lag(ctx, name)
	var l kadm.DescribedGroupLag
	if err == nil {
		l = lags[name]
		err = l.Error()
	}
	switch {
	case errors.Is(err, kerr.GroupIDNotFound) || err == nil && l.State == "Dead" && len(l.Lag) == 0:
		apicontract.WriteError(w, &apicontract.Error{Status: http.StatusNotFound, Code: apicontract.CodeNotFound, Field: "group", Message: "the cluster has no group " + strconv.Quote(name)})
		return
	case err != nil:
		apicontract.WriteError(w, brokerError(err))
		return
	}
	d := h.groupDetail(l)
	if err := h.describeProtocol(ctx, &d, l.Protocol); err != nil {
		apicontract.WriteError(w, brokerError(err))
		return
	}
	apicontract.WriteJSON(w, http.StatusOK, d)
}

// describeProtocol fills in d's group protocol and assignor: a classic
// group's assignor is its described protocol, a KIP-848 group's is the
// one ConsumerGroupDescribe names.
func (h *Handler) describeProtocol(ctx context.Context, d *GroupDetail, protocol string) error {
	d.GroupProtocol, d.Assignor = "classic", protocol
	listed, err := h.adm.ListGroups(ctx)
	if err != nil {
		return err
	}
	if g, ok := listed[d.Name]; ok {
		d.GroupProtocol = groupProtocol(g)
	}
	if d.GroupProtocol != "consumer" {
		return nil
	}
	described, err := h.adm.DescribeConsumerGroups(ctx, d.Name)
	if err != nil {
		return err
	}
	if g, ok := described[d.Name]; ok && g.Err == nil {
		d.Assignor = g.AssignorName
	}
	return nil
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
