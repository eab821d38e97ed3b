package apicontract

import (
	"strings"

	"github.com/kafkakit/kafkakit/idempotency"
)

// TopicFilter is the set of topics a client may use (HTTP_ALLOWED_TOPICS):
// exact names, or "prefix.*" patterns that match topics starting with
// "prefix.". The send routes and the admin API share it.
type TopicFilter struct {
	exact    map[string]bool
	prefixes []string
}

// NewTopicFilter returns the filter of patterns; none (a nil filter)
// allows every topic.
func NewTopicFilter(patterns []string) *TopicFilter {
	if len(patterns) == 0 {
		return nil
	}
	f := &TopicFilter{exact: make(map[string]bool)}
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			f.prefixes = append(f.prefixes, prefix)
		} else {
			f.exact[p] = true
		}
	}
	return f
}

// Allows reports whether topic may be used; a nil filter allows all but
// idempotency.Topic, kafkakit's own, which no client may write, list or
// read: its records are other callers' remembered answers.
func (f *TopicFilter) Allows(topic string) bool {
	if topic == idempotency.Topic {
		return false
	}
	if f == nil || f.exact[topic] {
		return true
	}
	for _, p := range f.prefixes {
		if strings.HasPrefix(topic, p) {
			return true
		}
	}
	return false
}

// Restricted reports whether the filter allows less than every topic.
func (f *TopicFilter) Restricted() bool { return f != nil }
