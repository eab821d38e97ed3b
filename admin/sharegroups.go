package admin

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// ShareGroup is one share group (KIP-932) in GET /kafka/share-groups.
type ShareGroup struct {
	Name  string `json:"name"`
	State string `json:"state"`
	// MemberCount counts the group's members.
	MemberCount int `json:"member_count"`
	// Lag is the sum of the partitions' lag (see ShareGroupPartition),
	// -1 when the cluster does not say.
	Lag int64 `json:"lag"`
}

// ShareGroupDetail is GET /kafka/share-groups/{group}.
type ShareGroupDetail struct {
	Name            string             `json:"name"`
	State           string             `json:"state"`
	GroupEpoch      int32              `json:"group_epoch"`
	AssignmentEpoch int32              `json:"assignment_epoch"`
	Members         []Member           `json:"members"`
	Partitions      []ShareGroupOffset `json:"partitions"`
	// Lag is the sum of the partitions' lag, -1 if any is unknown.
	Lag int64 `json:"lag"`
	// InFlight sums the partitions' InFlight: records this instance is
	// handling now for the group.
	InFlight int `json:"in_flight"`
}

// ShareGroupOffset is one partition of a share group: where its share
// partition starts (records before it are done; Apache Kafka moves the
// start when it writes the partition's state, so it may stay behind for
// a while), the records not yet acknowledged (Lag, as Apache Kafka counts
// it: available and in flight alike), both -1 when the cluster does not
// say (Apache Kafka, before the group's first acknowledgement there), and
// the records of it this instance's share consumer is handling now.
type ShareGroupOffset struct {
	Topic       string `json:"topic"`
	Partition   int32  `json:"partition"`
	StartOffset int64  `json:"start_offset"`
	Lag         int64  `json:"lag"`
	InFlight    int    `json:"in_flight"`
}

// ShareInFlight sets where the share group routes learn the records this
// instance is handling for a group: by topic and partition, nil for a
// group it does not consume in. The default knows of none.
func ShareInFlight(inFlight func(group string) map[string]map[int32]int) Option {
	return optionFunc(func(o *options) { o.shareInFlight = inFlight })
}

// shareGroupsSupported answers 501 naming what the cluster lacks when it
// has no share groups, or 502 when it cannot be asked, and reports
// whether the route may go on.
func (h *Handler) shareGroupsSupported(ctx context.Context, w http.ResponseWriter) bool {
	err := consumer.CheckShareGroups(ctx, h.cl)
	switch {
	case err == nil:
		return true
	case errors.Is(err, consumer.ErrShareGroupsUnsupported):
		apicontract.WriteError(w, &apicontract.Error{Status: http.StatusNotImplemented, Code: apicontract.CodeShareGroupsUnsupported, Message: err.Error()})
	default:
		apicontract.WriteError(w, brokerError(err))
	}
	return false
}

// shareGroups answers GET /kafka/share-groups: every share group, sorted
// by name, with its member count and total lag.
func (h *Handler) shareGroups(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.timeout)
	defer cancel()
	if !h.shareGroupsSupported(ctx, w) {
		return
	}
	described, err := h.adm.DescribeShareGroups(ctx)
	if err != nil {
		apicontract.WriteError(w, brokerError(err))
		return
	}
	out := []ShareGroup{}
	for _, g := range described.Sorted() {
		if g.Err != nil {
			continue // gone between the listing and the describe
		}
		sg := ShareGroup{Name: g.GroupID, State: g.GroupState, MemberCount: len(g.Members), Lag: -1}
		if offsets, err := h.shareOffsets(ctx, g.GroupID); err == nil {
			sg.Lag = sumLag(offsets)
		}
		out = append(out, sg)
	}
	apicontract.WriteJSON(w, http.StatusOK, map[string]any{"share_groups": out})
}

// shareGroup answers GET /kafka/share-groups/{group}.
func (h *Handler) shareGroup(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("group")
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.timeout)
	defer cancel()
	if !h.shareGroupsSupported(ctx, w) {
		return
	}
	described, err := h.adm.DescribeShareGroups(ctx, name)
	if err != nil {
		apicontract.WriteError(w, brokerError(err))
		return
	}
	g, ok := described[name]
	switch {
	case !ok || errors.Is(g.Err, kerr.GroupIDNotFound) || g.GroupState == "Dead":
		apicontract.WriteError(w, &apicontract.Error{Status: http.StatusNotFound, Code: apicontract.CodeNotFound, Field: "group", Message: "the cluster has no share group " + strconv.Quote(name)})
		return
	case g.Err != nil:
		apicontract.WriteError(w, brokerError(g.Err))
		return
	}
	offsets, err := h.shareOffsets(ctx, name)
	if err != nil {
		apicontract.WriteError(w, brokerError(err))
		return
	}
	apicontract.WriteJSON(w, http.StatusOK, h.shareGroupDetail(g, offsets))
}

// shareGroupDetail puts the group's description and offsets together,
// with the records this instance handles, on topics the allowlist shows.
func (h *Handler) shareGroupDetail(g kadm.DescribedShareGroup, offsets []ShareGroupOffset) ShareGroupDetail {
	d := ShareGroupDetail{
		Name:            g.GroupID,
		State:           g.GroupState,
		GroupEpoch:      g.GroupEpoch,
		AssignmentEpoch: g.AssignmentEpoch,
		Members:         []Member{},
		Partitions:      offsets,
		Lag:             sumLag(offsets),
	}
	for _, m := range g.Members {
		assigned := map[string][]int32{}
		for topic, ps := range m.Assignment {
			if h.allowed(topic) {
				assigned[topic] = slices.Sorted(maps.Keys(ps))
			}
		}
		d.Members = append(d.Members, Member{MemberID: m.MemberID, ClientID: m.ClientID, ClientHost: m.ClientHost, Assigned: assigned})
	}
	var here map[string]map[int32]int
	if h.opts.shareInFlight != nil {
		here = h.opts.shareInFlight(g.GroupID)
	}
	for i := range d.Partitions {
		p := &d.Partitions[i]
		p.InFlight = here[p.Topic][p.Partition]
		d.InFlight += p.InFlight
	}
	return d
}

// shareOffsets is the group's share partitions on topics the allowlist
// shows, sorted, from DescribeShareGroupOffsets.
func (h *Handler) shareOffsets(ctx context.Context, group string) ([]ShareGroupOffset, error) {
	described, err := h.adm.DescribeShareGroupOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	d := described[group]
	if d.Err != nil {
		return nil, d.Err
	}
	out := []ShareGroupOffset{}
	for _, o := range d.Offsets.Sorted() {
		if o.Err != nil || !h.allowed(o.Topic) {
			continue
		}
		out = append(out, ShareGroupOffset{Topic: o.Topic, Partition: o.Partition, StartOffset: o.StartOffset, Lag: o.Lag})
	}
	return out, nil
}

// sumLag sums the partitions' lag, -1 if any is unknown.
func sumLag(offsets []ShareGroupOffset) int64 {
	var total int64
	for _, o := range offsets {
		if o.Lag < 0 {
			return -1
		}
		total += o.Lag
	}
	return total
}
