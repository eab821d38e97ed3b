package admin

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/config"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// MaxResetTopics bounds the topics one reset names: each is described
// to the cluster in turn, within the request's time.
const MaxResetTopics = 100

// maxGroupName bounds a group's name in the admin API's changes: Kafka
// sets no limit, but a name is a key of the broker's and a line of our
// logs.
const maxGroupName = 255

// checkGroupName refuses a group name that is empty, longer than
// maxGroupName bytes, not UTF-8, or holds control characters.
func checkGroupName(name string) *apicontract.Error {
	switch {
	case name == "":
		return badRequest("group", "must not be empty")
	case len(name) > maxGroupName:
		return badRequest("group", fmt.Sprintf("is %d bytes long; the limit is %d", len(name), maxGroupName))
	case !utf8.ValidString(name):
		return badRequest("group", "is not UTF-8")
	case strings.ContainsFunc(name, unicode.IsControl):
		return badRequest("group", "holds a control character")
	}
	return nil
}

// busyGroup is the answer when a group has members, naming them.
func busyGroup(group string, members []string) *apicontract.Error {
	return &apicontract.Error{Status: http.StatusConflict, Code: CodeGroupNotEmpty, Field: "group",
		Message: "group " + strconv.Quote(group) + " has active members: " + strings.Join(members, ", ") + "; stop them first"}
}

// maxNamedMembers bounds the members a 409 answer names.
const maxNamedMembers = 20

// activeMembers names the members of a group, "client-id (member-id) on
// host", at most maxNamedMembers of them and a count of the rest, and
// says whether it is a share group. A group the cluster does not have has
// none.
func (h *Handler) activeMembers(ctx context.Context, group string) (members []string, share bool, err error) {
	listed, err := h.adm.ListGroups(ctx)
	if err != nil {
		return nil, false, err
	}
	var all []string
	switch g, ok := listed[group]; {
	case ok && groupProtocol(g) == "share":
		return nil, true, nil
	case ok && groupProtocol(g) == "consumer":
		req := kmsg.NewPtrConsumerGroupDescribeRequest()
		req.Groups = []string{group}
		resp, err := req.RequestWith(ctx, h.cl)
		if err != nil {
			return nil, false, err
		}
		for _, d := range resp.Groups {
			if err := kerr.ErrorForCode(d.ErrorCode); d.Group == group && err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
				return nil, false, err
			}
			for _, m := range d.Members {
				all = append(all, memberName(m.ClientID, m.MemberID, m.ClientHost))
			}
		}
	default:
		described, err := h.adm.DescribeGroups(ctx, group)
		if err != nil {
			return nil, false, err
		}
		d := described[group]
		if d.Err != nil && !errors.Is(d.Err, kerr.GroupIDNotFound) {
			return nil, false, d.Err
		}
		for _, m := range d.Members {
			all = append(all, memberName(m.ClientID, m.MemberID, m.ClientHost))
		}
	}
	if len(all) > maxNamedMembers {
		all = append(all[:maxNamedMembers], fmt.Sprintf("and %d more", len(all)-maxNamedMembers))
	}
	return all, false, nil
}

func memberName(client, member, host string) string {
	client, _ = cutText(client, 128)
	member, _ = cutText(member, 128)
	host, _ = cutText(host, 128)
	return fmt.Sprintf("%s (%s) on %s", strconv.Quote(client), member, host)
}

// emptyGroup answers nil when group has no members, 409 naming them, or
// 400 for a share group, whose offsets are not the consumer offsets this
// API changes.
func (h *Handler) emptyGroup(ctx context.Context, group string) *apicontract.Error {
	members, share, err := h.activeMembers(ctx, group)
	switch {
	case err != nil:
		return brokerError(err)
	case share:
		return badRequest("group", strconv.Quote(group)+" is a share group; this API changes consumer groups only")
	case len(members) > 0:
		return busyGroup(group, members)
	}
	return nil
}

func (h *Handler) resetGroup(w http.ResponseWriter, r *http.Request) {
	group := r.PathValue("group")
	var req ResetRequest
	e := checkGroupName(group)
	if e == nil {
		e = decodeBody(r, &req, "a reset")
	}
	noteOf(r).dryRun = req.DryRun
	if e == nil {
		e = checkReset(req)
	}
	if e != nil {
		refuse(w, r, e)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.timeout)
	defer cancel()
	if e := h.emptyGroup(ctx, group); e != nil {
		refuse(w, r, e)
		return
	}
	ans, e := h.planReset(ctx, group, req)
	if e == nil && !req.DryRun {
		e = h.commitReset(ctx, group, ans)
	}
	if e != nil {
		refuse(w, r, e)
		return
	}
	noteOf(r).summary = fmt.Sprintf("to %s: %d partitions, %d records skipped, %d read again", req.To, len(ans.Partitions), ans.Skipped, ans.Reread)
	apicontract.WriteJSON(w, http.StatusOK, ans)
}

// checkReset checks a reset's fields before the cluster is asked.
func checkReset(req ResetRequest) *apicontract.Error {
	if req.To.Kind == "" {
		return badRequest("to", `is required: "earliest", "latest", an RFC 3339 time, {"offset":N} or {"shift":N}`)
	}
	if len(req.Topics) == 0 {
		return badRequest("topics", "name at least one topic to reset")
	}
	if len(req.Topics) > MaxResetTopics {
		return badRequest("topics", fmt.Sprintf("names %d topics; a reset takes at most %d", len(req.Topics), MaxResetTopics))
	}
	seen := map[string]bool{}
	for i, t := range req.Topics {
		if err := config.ValidateTopic(t.Topic); err != nil {
			return badRequest(fmt.Sprintf("topics[%d].topic", i), "is not a topic name: "+err.Error())
		}
		if seen[t.Topic] {
			return badRequest(fmt.Sprintf("topics[%d]", i), strconv.Quote(cut(t.Topic))+" is named twice")
		}
		seen[t.Topic] = true
	}
	return nil
}

// planReset works out each partition's new offset: 403 or 404 for a
// topic hidden or missing, 400 for a partition the topic does not have.
func (h *Handler) planReset(ctx context.Context, group string, req ResetRequest) (ResetAnswer, *apicontract.Error) {
	ans := ResetAnswer{Group: group, DryRun: req.DryRun, To: req.To, Partitions: []ResetRow{}}
	chosen := map[string][]int32{}
	for i, t := range req.Topics {
		field := fmt.Sprintf("topics[%d]", i)
		details, e := h.describe(ctx, t.Topic)
		if e != nil {
			return ans, e.WithField(field)
		}
		have := details[t.Topic].Partitions.Numbers()
		for _, p := range t.Partitions {
			if !slices.Contains(have, p) {
				return ans, badRequest(field+".partitions", fmt.Sprintf("topic %s has no partition %d", strconv.Quote(t.Topic), p))
			}
		}
		chosen[t.Topic] = orAll(t.Partitions, have)
	}
	topics := slices.Sorted(maps.Keys(chosen))
	offs, err := h.resetOffsets(ctx, group, req.To, topics)
	if err != nil {
		return ans, brokerError(err)
	}
	for _, t := range topics {
		for _, p := range slices.Sorted(slices.Values(chosen[t])) {
			old, start, end, at := offs.of(t, p)
			n, note := req.To.target(old, start, end, at)
			r := row(t, p, old, start, end, n, note)
			ans.Skipped += r.Skipped
			ans.Reread += r.Reread
			ans.Partitions = append(ans.Partitions, r)
		}
	}
	return ans, nil
}

// orAll is the partitions named, without repeats, or all when none is.
func orAll(named, all []int32) []int32 {
	if len(named) > 0 {
		return slices.Compact(slices.Sorted(slices.Values(named)))
	}
	return all
}

// offsetsNow is what a reset plans from: the group's commits and each
// partition's log start and end, and where a time falls.
type offsetsNow struct {
	committed         kadm.OffsetResponses
	starts, ends, ats kadm.ListedOffsets
}

// of is one partition's committed offset (-1 for none), log start, log
// end and time offset.
func (o offsetsNow) of(t string, p int32) (old, start, end, at int64) {
	old = -1
	if c, ok := o.committed.Lookup(t, p); ok && c.Err == nil {
		old = c.At
	}
	if s, ok := o.starts.Lookup(t, p); ok {
		start = s.Offset
	}
	if e, ok := o.ends.Lookup(t, p); ok {
		end = e.Offset
	}
	at = end
	if a, ok := o.ats.Lookup(t, p); ok && a.Err == nil && a.Offset >= 0 {
		at = a.Offset
	}
	return old, start, end, at
}

func (h *Handler) resetOffsets(ctx context.Context, group string, to ResetTarget, topics []string) (o offsetsNow, err error) {
	if o.committed, err = h.adm.FetchOffsetsForTopics(ctx, group, topics...); err == nil {
		err = o.committed.Error()
	}
	if errors.Is(err, kerr.GroupIDNotFound) { // a group yet to be: nothing committed
		o.committed, err = nil, nil
	}
	if err == nil {
		o.starts, err = h.adm.ListStartOffsets(ctx, topics...)
	}
	if err == nil {
		err = o.starts.Error()
	}
	if err == nil {
		o.ends, err = h.adm.ListEndOffsets(ctx, topics...)
	}
	if err == nil {
		err = o.ends.Error()
	}
	if err == nil && to.Kind == ToTime {
		o.ats, err = h.adm.ListOffsetsAfterMilli(ctx, to.Time.UnixMilli(), topics...)
	}
	return o, err
}

// commitReset commits a planned reset. A member that joined since the
// check makes Kafka refuse the commit: 409 as before.
func (h *Handler) commitReset(ctx context.Context, group string, ans ResetAnswer) *apicontract.Error {
	offsets := kadm.Offsets{}
	for _, r := range ans.Partitions {
		offsets.Add(kadm.Offset{Topic: r.Topic, Partition: r.Partition, At: r.NewOffset, LeaderEpoch: -1})
	}
	resps, err := h.adm.CommitOffsets(ctx, group, offsets)
	if err == nil {
		err = resps.Error()
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration), errors.Is(err, kerr.RebalanceInProgress),
		errors.Is(err, kerr.StaleMemberEpoch), errors.Is(err, kerr.FencedMemberEpoch):
		members, _, _ := h.activeMembers(ctx, group)
		return busyGroup(group, append(members, "(joined while resetting: "+err.Error()+")"))
	}
	return brokerError(err)
}

// DeletedGroup is the answer of DELETE /kafka/groups/{group}.
type DeletedGroup struct {
	Deleted string `json:"deleted"`
}

func (h *Handler) deleteGroup(w http.ResponseWriter, r *http.Request) {
	group := r.PathValue("group")
	if e := checkGroupName(group); e != nil {
		refuse(w, r, e)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.timeout)
	defer cancel()
	e := h.emptyGroup(ctx, group)
	if e == nil {
		e = h.hiddenCommits(ctx, group)
	}
	if e != nil {
		refuse(w, r, e)
		return
	}
	resp, err := h.adm.DeleteGroup(ctx, group)
	switch {
	case errors.Is(err, kerr.GroupIDNotFound):
		refuse(w, r, &apicontract.Error{Status: http.StatusNotFound, Code: apicontract.CodeNotFound, Field: "group", Message: "the cluster has no group " + strconv.Quote(group)})
		return
	case errors.Is(err, kerr.NonEmptyGroup):
		members, _, _ := h.activeMembers(ctx, group)
		refuse(w, r, busyGroup(group, members))
		return
	case err != nil:
		refuse(w, r, brokerError(fmt.Errorf("%w %s", err, resp.ErrMessage)))
		return
	}
	noteOf(r).summary = "deleted with its committed offsets"
	apicontract.WriteJSON(w, http.StatusOK, DeletedGroup{Deleted: group})
}

// hiddenCommits refuses, with HTTP_ALLOWED_TOPICS set, to delete a group
// that has committed offsets on a topic the allowlist hides: deleting it
// deletes those too.
func (h *Handler) hiddenCommits(ctx context.Context, group string) *apicontract.Error {
	if !h.opts.allowed.Restricted() {
		return nil
	}
	committed, err := h.adm.FetchOffsets(ctx, group)
	if err == nil {
		err = committed.Error()
	}
	if errors.Is(err, kerr.GroupIDNotFound) {
		return nil
	}
	if err != nil {
		return brokerError(err)
	}
	for _, o := range committed.Sorted() {
		if !h.allowed(o.Topic) {
			return &apicontract.Error{Status: http.StatusForbidden, Code: apicontract.CodeForbidden, Field: "group",
				Message: "group " + strconv.Quote(group) + " has committed offsets on a topic not in HTTP_ALLOWED_TOPICS"}
		}
	}
	return nil
}
