package admin

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/config"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// MaxPartitions bounds the partitions a topic may be created with or
// grown to through the admin API: a typo of a few zeros would otherwise
// weigh on every broker.
const MaxPartitions = 10000

// CreateTopicRequest is the body of POST /kafka/topics.
type CreateTopicRequest struct {
	Name string `json:"name"`
	// Partitions is the number of partitions, 1 to MaxPartitions; 0 or
	// absent takes the broker's default (num.partitions).
	Partitions int `json:"partitions"`
	// ReplicationFactor is the number of copies of each partition; 0 or
	// absent takes the broker's default (default.replication.factor).
	ReplicationFactor int `json:"replication_factor"`
	// Configs are topic settings (TopicConfigKeys), each a JSON value of
	// its type.
	Configs map[string]json.RawMessage `json:"configs"`
}

// CreatedTopic is the answer of POST /kafka/topics: what was created, or
// in a dry run what the broker would create.
type CreatedTopic struct {
	DryRun            bool              `json:"dry_run"`
	Topic             string            `json:"topic"`
	Partitions        int32             `json:"partitions"`
	ReplicationFactor int16             `json:"replication_factor"`
	Configs           map[string]string `json:"configs"`
}

// writable checks a topic the admin API is asked to create, change or
// delete: a name Kafka accepts (400, field), not one of Kafka's internal
// topics or kafkakit's own, which start with "__" (403), and allowed by
// HTTP_ALLOWED_TOPICS (403).
func (h *Handler) writable(field, name string) *apicontract.Error {
	if err := config.ValidateTopic(name); err != nil {
		return badRequest(field, "is not a topic name: "+err.Error())
	}
	if strings.HasPrefix(name, "__") {
		return &apicontract.Error{Status: http.StatusForbidden, Code: apicontract.CodeForbidden, Field: field,
			Message: strconv.Quote(name) + ": the admin API never changes an internal topic (a name starting with __)"}
	}
	if !h.allowed(name) {
		return forbiddenField(field, name)
	}
	return nil
}

// dryRun reads ?dry_run, true or false (absent is false).
func dryRun(r *http.Request) (bool, *apicontract.Error) {
	v := r.URL.Query().Get("dry_run")
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("dry_run", strconv.Quote(v)+" is not true or false")
	}
	return b, nil
}

func (h *Handler) createTopic(w http.ResponseWriter, r *http.Request) {
	dry, e := dryRun(r)
	noteOf(r).dryRun = dry
	var req CreateTopicRequest
	if e == nil {
		e = decodeBody(r, &req, "a topic to create")
	}
	noteOf(r).target = req.Name
	if e == nil {
		e = h.checkCreate(req)
	}
	var configs map[string]*string
	if e == nil {
		var fe *fieldError
		if configs, fe = configValues(req.Configs, false); fe != nil {
			e = badRequest(fe.field, fe.msg)
		}
	}
	if e != nil {
		refuse(w, r, e)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.timeout)
	defer cancel()
	create := h.adm.CreateTopics
	if dry {
		create = h.adm.ValidateCreateTopics
	}
	resps, err := create(ctx, int32(cmp.Or(req.Partitions, -1)), int16(cmp.Or(req.ReplicationFactor, -1)), configs, req.Name)
	resp, ok := resps[req.Name]
	if err == nil && !ok {
		err = errors.New("the broker did not answer for the topic")
	}
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		refuse(w, r, topicOpError(req.Name, err, resp.ErrMessage))
		return
	}
	out := CreatedTopic{DryRun: dry, Topic: req.Name, Partitions: resp.NumPartitions, ReplicationFactor: resp.ReplicationFactor, Configs: map[string]string{}}
	for k, v := range configs {
		out.Configs[k] = *v
	}
	noteOf(r).summary = fmt.Sprintf("partitions %d, replication factor %d, configs %v", out.Partitions, out.ReplicationFactor, out.Configs)
	status := http.StatusCreated
	if dry {
		status = http.StatusOK
	}
	apicontract.WriteJSON(w, status, out)
}

// checkCreate checks a create request's name and numbers.
func (h *Handler) checkCreate(req CreateTopicRequest) *apicontract.Error {
	if e := h.writable("name", req.Name); e != nil {
		return e
	}
	if req.Partitions < 0 || req.Partitions > MaxPartitions {
		return badRequest("partitions", fmt.Sprintf("%d is not from 1 to %d (0 takes the broker's default)", req.Partitions, MaxPartitions))
	}
	if req.ReplicationFactor < 0 || req.ReplicationFactor > 255 {
		return badRequest("replication_factor", fmt.Sprintf("%d is not from 1 to 255 (0 takes the broker's default)", req.ReplicationFactor))
	}
	return nil
}

// topicOpError is the answer when the broker refused to create, change
// or delete a topic: 409 when it exists already, 404 when it does not,
// 400 when the broker found a value invalid (a replication factor above
// the brokers' count, a setting out of its range), 403 when the broker's
// ACLs deny it, and 502 for anything else.
func topicOpError(topic string, err error, detail string) *apicontract.Error {
	msg := err.Error()
	if detail != "" {
		msg += ": " + detail
	}
	switch {
	case errors.Is(err, kerr.TopicAlreadyExists):
		return &apicontract.Error{Status: http.StatusConflict, Code: CodeConflict, Field: "name", Message: "the cluster has a topic " + strconv.Quote(topic) + " already"}
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return unknownTopic(topic)
	case errors.Is(err, kerr.InvalidReplicationFactor), errors.Is(err, kerr.InvalidPartitions),
		errors.Is(err, kerr.InvalidConfig), errors.Is(err, kerr.InvalidRequest), errors.Is(err, kerr.InvalidReplicaAssignment),
		errors.Is(err, kerr.InvalidTopicException), errors.Is(err, kerr.PolicyViolation):
		return badRequest("", "the broker refused: "+msg)
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed):
		return &apicontract.Error{Status: http.StatusForbidden, Code: apicontract.CodeForbidden, Message: "the broker refused: " + msg}
	}
	return brokerError(errors.New(msg))
}

// Error codes of the admin API's own, beside apicontract's. Clients
// branch on these, so they are part of the API.
const (
	// CodeConflict (409): a topic to create exists, or a replay of the
	// topic is running.
	CodeConflict = "conflict"
	// CodeGroupNotEmpty (409): a group to reset or delete has members;
	// Kafka takes commits and deletes only from an empty group.
	CodeGroupNotEmpty = "group_not_empty"
)

// TopicChangeRequest is the body of PATCH /kafka/topics/{topic}: either
// or both.
type TopicChangeRequest struct {
	// Partitions is the new number of partitions, at least today's; 0 or
	// absent leaves them.
	Partitions int `json:"partitions"`
	// Configs are settings to change (TopicConfigKeys); null sets one
	// back to the broker's default.
	Configs map[string]json.RawMessage `json:"configs"`
}

// TopicChange is the answer of PATCH /kafka/topics/{topic}: the diff,
// made or, in a dry run, to be made.
type TopicChange struct {
	DryRun     bool             `json:"dry_run"`
	Topic      string           `json:"topic"`
	Partitions *PartitionChange `json:"partitions"`
	Configs    []ConfigChange   `json:"configs"`
	// Warnings say what the change does beyond itself: adding
	// partitions moves keys to other partitions.
	Warnings []string `json:"warnings"`
}

// PartitionChange is a topic's partition count before and after.
type PartitionChange struct {
	From int `json:"from"`
	To   int `json:"to"`
}

// ConfigChange is one setting before and after. From is null when the
// broker does not show the value (a sensitive one); To is null when the
// setting goes back to the broker's default. FromDefault says the value
// before was the default, not set on the topic.
type ConfigChange struct {
	Key         string  `json:"key"`
	From        *string `json:"from"`
	FromDefault bool    `json:"from_default"`
	To          *string `json:"to"`
}

// keyOrderWarning is the warning of an answer that adds partitions.
const keyOrderWarning = "adding partitions changes the partition of most keys: records of one key sent after the change go to another partition than those before, so a consumer may read them out of order, and a compacted topic keeps both"

func (h *Handler) updateTopic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("topic")
	dry, e := dryRun(r)
	noteOf(r).dryRun = dry
	if e == nil {
		e = h.writable("topic", name)
	}
	var req TopicChangeRequest
	if e == nil {
		e = decodeBody(r, &req, "a topic change")
	}
	var configs map[string]*string
	if e == nil {
		configs, e = checkChange(req)
	}
	if e != nil {
		refuse(w, r, e)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.timeout)
	defer cancel()
	ch, e := h.planChange(ctx, name, req.Partitions, configs)
	if e == nil {
		// The broker checks the whole change before any of it is made, so
		// that a change is not left half done by a value it refuses.
		e = h.applyChange(ctx, ch, true)
	}
	if e == nil && !dry {
		e = h.applyChange(ctx, ch, false)
	}
	if e != nil {
		refuse(w, r, e)
		return
	}
	ch.DryRun = dry
	noteOf(r).summary = ch.summary()
	apicontract.WriteJSON(w, http.StatusOK, ch)
}

// checkChange checks a change's numbers and settings, before the cluster
// is asked.
func checkChange(req TopicChangeRequest) (map[string]*string, *apicontract.Error) {
	if req.Partitions == 0 && len(req.Configs) == 0 {
		return nil, badRequest("", "name partitions, configs or both")
	}
	if req.Partitions < 0 || req.Partitions > MaxPartitions {
		return nil, badRequest("partitions", fmt.Sprintf("%d is not from 1 to %d", req.Partitions, MaxPartitions))
	}
	configs, fe := configValues(req.Configs, true)
	if fe != nil {
		return nil, badRequest(fe.field, fe.msg)
	}
	return configs, nil
}

// planChange is the diff of a change against the topic as it is: 403
// or 404 for a topic hidden or missing, 400 for fewer partitions than
// today, which Kafka cannot do.
func (h *Handler) planChange(ctx context.Context, name string, partitions int, configs map[string]*string) (TopicChange, *apicontract.Error) {
	ch := TopicChange{Topic: name, Configs: []ConfigChange{}, Warnings: []string{}}
	details, e := h.describe(ctx, name)
	if e != nil {
		return ch, e
	}
	now := len(details[name].Partitions)
	switch {
	case partitions != 0 && partitions < now:
		return ch, badRequest("partitions", fmt.Sprintf("%d is fewer than the topic's %d partitions; Kafka cannot remove partitions", partitions, now))
	case partitions > now:
		ch.Partitions = &PartitionChange{From: now, To: partitions}
		ch.Warnings = append(ch.Warnings, keyOrderWarning)
	}
	if len(configs) == 0 {
		return ch, nil
	}
	described, err := h.adm.DescribeTopicConfigs(ctx, name)
	var rc kadm.ResourceConfig
	if err == nil {
		rc, err = described.On(name, nil)
	}
	if err != nil {
		return ch, topicOpError(name, err, "")
	}
	current := map[string]kadm.Config{}
	for _, c := range rc.Configs {
		current[c.Key] = c
	}
	for _, key := range TopicConfigKeys() {
		to, ok := configs[key]
		if !ok {
			continue
		}
		c, set := current[key]
		from := c.Value
		fromDefault := !set || c.Source != kmsg.ConfigSourceDynamicTopicConfig
		if to == nil && fromDefault || to != nil && from != nil && *to == *from && !fromDefault {
			continue // no change
		}
		ch.Configs = append(ch.Configs, ConfigChange{Key: key, From: from, FromDefault: fromDefault, To: to})
	}
	return ch, nil
}

// applyChange makes ch's change, settings first, or with validateOnly has
// the broker check it and change nothing.
func (h *Handler) applyChange(ctx context.Context, ch TopicChange, validateOnly bool) *apicontract.Error {
	if e := h.alterConfigs(ctx, ch, validateOnly); e != nil {
		return e
	}
	e := h.growPartitions(ctx, ch, validateOnly)
	if e != nil && !validateOnly && len(ch.Configs) > 0 {
		e.Message = "the settings were changed, the partitions not: " + e.Message
	}
	return e
}

// alterConfigs changes ch's settings (IncrementalAlterConfigs).
func (h *Handler) alterConfigs(ctx context.Context, ch TopicChange, validateOnly bool) *apicontract.Error {
	if len(ch.Configs) == 0 {
		return nil
	}
	var alters []kadm.AlterConfig
	for _, c := range ch.Configs {
		op := kadm.SetConfig
		if c.To == nil {
			op = kadm.DeleteConfig
		}
		alters = append(alters, kadm.AlterConfig{Op: op, Name: c.Key, Value: c.To})
	}
	alter := h.adm.AlterTopicConfigs
	if validateOnly {
		alter = h.adm.ValidateAlterTopicConfigs
	}
	resps, err := alter(ctx, alters, ch.Topic)
	if err != nil {
		return topicOpError(ch.Topic, err, "")
	}
	for _, resp := range resps {
		if resp.Err != nil {
			return topicOpError(ch.Topic, resp.Err, resp.ErrMessage)
		}
	}
	return nil
}

// growPartitions adds ch's partitions (CreatePartitions).
func (h *Handler) growPartitions(ctx context.Context, ch TopicChange, validateOnly bool) *apicontract.Error {
	if ch.Partitions == nil {
		return nil
	}
	update := h.adm.UpdatePartitions
	if validateOnly {
		update = h.adm.ValidateUpdatePartitions
	}
	resps, err := update(ctx, ch.Partitions.To, ch.Topic)
	if err != nil {
		return topicOpError(ch.Topic, err, "")
	}
	if resp := resps[ch.Topic]; resp.Err != nil {
		return topicOpError(ch.Topic, resp.Err, resp.ErrMessage)
	}
	return nil
}

// summary is the change in a line, for the audit trail.
func (ch TopicChange) summary() string {
	s := "partitions unchanged"
	if ch.Partitions != nil {
		s = fmt.Sprintf("partitions %d -> %d", ch.Partitions.From, ch.Partitions.To)
	}
	for _, c := range ch.Configs {
		s += fmt.Sprintf(", %s %s -> %s", c.Key, orDefault(c.From, c.FromDefault), orDefault(c.To, c.To == nil))
	}
	return s
}

func orDefault(v *string, isDefault bool) string {
	switch {
	case v == nil && isDefault:
		return "(default)"
	case v == nil:
		return "(hidden)"
	case isDefault:
		return *v + " (default)"
	}
	return *v
}

// DeleteTopicRequest is the body of DELETE /kafka/topics/{topic}: the
// topic's name again, so that no request deletes a topic by a slip of
// the path, and never more than the one named.
type DeleteTopicRequest struct {
	Confirm string `json:"confirm"`
}

// DeletedTopic is the answer of DELETE /kafka/topics/{topic}.
type DeletedTopic struct {
	Deleted    string `json:"deleted"`
	Partitions int    `json:"partitions"`
	// Messages is how many messages the topic held, as GET counts them.
	Messages int64 `json:"messages"`
}

func (h *Handler) deleteTopic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("topic")
	e := h.writable("topic", name)
	var req DeleteTopicRequest
	if e == nil {
		e = decodeBody(r, &req, "a delete confirmation")
	}
	if e == nil && req.Confirm != name {
		e = badRequest("confirm", "must repeat the topic's name, "+strconv.Quote(name)+", exactly")
	}
	if e != nil {
		refuse(w, r, e)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.timeout)
	defer cancel()
	parts, e := h.topicPartitions(ctx, name)
	if e != nil {
		refuse(w, r, e)
		return
	}
	resp, err := h.adm.DeleteTopic(ctx, name)
	if err != nil {
		refuse(w, r, topicOpError(name, err, resp.ErrMessage))
		return
	}
	// The client keeps the topic's metadata for a while, and its requests
	// by topic ask the brokers to create a topic they lack (config.Kafka's
	// clients do): a later request of ours that used the stale entry would
	// have a cluster that creates topics on first use make it again.
	h.cl.PurgeTopicsFromClient(name)
	t := summarize(name, parts)
	out := DeletedTopic{Deleted: name, Partitions: t.Partitions, Messages: t.Messages}
	noteOf(r).summary = fmt.Sprintf("deleted %d partitions holding %d messages", out.Partitions, out.Messages)
	apicontract.WriteJSON(w, http.StatusOK, out)
}
