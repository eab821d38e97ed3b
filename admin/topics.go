package admin

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Topic is one topic in GET /kafka/topics.
type Topic struct {
	Name       string `json:"name"`
	Partitions int    `json:"partitions"`
	// Messages is the sum over partitions of end minus start offset: an
	// upper bound on a compacted topic.
	Messages int64 `json:"messages"`
}

// TopicDetail is GET /kafka/topics/{topic}.
type TopicDetail struct {
	Topic
	PartitionList []Partition `json:"partition_list"`
	// Config holds the settings that decide how long messages stay:
	// retention.ms, retention.bytes and cleanup.policy, as the broker
	// reports them.
	Config map[string]string `json:"config"`
}

// Partition is one partition of a topic.
type Partition struct {
	Partition int32 `json:"partition"`
	Leader    int32 `json:"leader"`
	Start     int64 `json:"start_offset"`
	End       int64 `json:"end_offset"`
	Messages  int64 `json:"messages"`
}

// configKeys are the topic settings the detail shows.
var configKeys = []string{"cleanup.policy", "retention.ms", "retention.bytes"}

func (h *Handler) topics(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.timeout)
	defer cancel()
	out, err := h.listTopics(ctx)
	if err != nil {
		apicontract.WriteError(w, brokerError(err))
		return
	}
	apicontract.WriteJSON(w, http.StatusOK, map[string]any{"topics": out})
}

// listTopics is the topics the allowlist shows, by name.
func (h *Handler) listTopics(ctx context.Context) ([]Topic, error) {
	details, err := h.adm.ListTopics(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, name := range details.Names() {
		if h.allowed(name) {
			names = append(names, name)
		}
	}
	out := []Topic{}
	if len(names) > 0 {
		parts, err := h.partitions(ctx, details, names)
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			out = append(out, summarize(name, parts[name]))
		}
	}
	return out, nil
}

func (h *Handler) topic(ctx context.Context, w http.ResponseWriter, r *http.Request, name string, parts []Partition) {
	configs, err := h.adm.DescribeTopicConfigs(ctx, name)
	if err == nil {
		_, err = configs.On(name, nil)
	}
	if err != nil {
		apicontract.WriteError(w, brokerError(err))
		return
	}
	d := TopicDetail{Topic: summarize(name, parts), PartitionList: parts, Config: map[string]string{}}
	for _, c := range configs[0].Configs {
		if slices.Contains(configKeys, c.Key) && c.Value != nil {
			d.Config[c.Key] = *c.Value
		}
	}
	apicontract.WriteJSON(w, http.StatusOK, d)
}

// describe finds one topic the client may see: 403 when the allowlist
// hides it, 404 when the cluster has none.
func (h *Handler) describe(ctx context.Context, name string) (kadm.TopicDetails, *apicontract.Error) {
	if !h.allowed(name) {
		return nil, forbidden(name)
	}
	// Asked directly rather than through the client's cached metadata,
	// whose requests may ask the broker to create the topic: looking
	// must not create.
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr(name)}}
	resp, err := req.RequestWith(ctx, h.cl)
	if err == nil && len(resp.Topics) == 1 {
		err = kerr.ErrorForCode(resp.Topics[0].ErrorCode)
	}
	var details kadm.TopicDetails
	if err == nil {
		details, err = h.adm.ListTopics(ctx, name)
	}
	if err == nil {
		err = details[name].Err
	}
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return nil, unknownTopic(name)
	case err != nil:
		return nil, brokerError(err)
	}
	return details, nil
}

// topicRoute serves a route of one topic, {topic}: it bounds the time
// spent asking the cluster and hands fn the topic's partitions, having
// answered itself when the topic is hidden or missing.
func (h *Handler) topicRoute(fn func(ctx context.Context, w http.ResponseWriter, r *http.Request, name string, parts []Partition)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("topic")
		ctx, cancel := context.WithTimeout(r.Context(), h.opts.timeout)
		defer cancel()
		parts, e := h.topicPartitions(ctx, name)
		if e != nil {
			apicontract.WriteError(w, e)
			return
		}
		fn(ctx, w, r, name, parts)
	}
}

// topicPartitions is describe then partitions, for one topic.
func (h *Handler) topicPartitions(ctx context.Context, name string) ([]Partition, *apicontract.Error) {
	details, e := h.describe(ctx, name)
	if e != nil {
		return nil, e
	}
	parts, err := h.partitions(ctx, details, []string{name})
	if err != nil {
		return nil, brokerError(err)
	}
	return parts[name], nil
}

// partitions lists the offsets of every partition of names.
func (h *Handler) partitions(ctx context.Context, details kadm.TopicDetails, names []string) (map[string][]Partition, error) {
	starts, err := h.adm.ListStartOffsets(ctx, names...)
	if err != nil {
		return nil, err
	}
	ends, err := h.adm.ListEndOffsets(ctx, names...)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]Partition, len(names))
	for _, name := range names {
		ps := []Partition{}
		for _, p := range details[name].Partitions.Sorted() {
			start, _ := starts.Lookup(name, p.Partition)
			end, _ := ends.Lookup(name, p.Partition)
			ps = append(ps, Partition{Partition: p.Partition, Leader: p.Leader, Start: start.Offset, End: end.Offset,
				Messages: max(end.Offset-start.Offset, 0)})
		}
		out[name] = ps
	}
	return out, nil
}

func summarize(name string, parts []Partition) Topic {
	t := Topic{Name: name, Partitions: len(parts)}
	for _, p := range parts {
		t.Messages += p.Messages
	}
	return t
}
