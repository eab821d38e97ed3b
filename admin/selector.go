package admin

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/dlq"
)

// Selector chooses the dead letters a replay sends; the others stay in
// the dead-letter topic. Every field given must match; none given
// selects all.
type Selector struct {
	// OriginalTopic is the topic the dead letter came from.
	OriginalTopic string `json:"original_topic"`
	// Exception is the exception's type, in full
	// (kafka_dlt-exception-fqcn).
	Exception string `json:"exception"`
	// Message is text the exception's message contains.
	Message string `json:"message"`
	// Key is the record's key, as text.
	Key *string `json:"key"`
	// Partition of the dead-letter topic.
	Partition *int32 `json:"partition"`
	// FromOffset and ToOffset bound the offsets in the dead-letter topic,
	// both included.
	FromOffset *int64 `json:"from_offset"`
	ToOffset   *int64 `json:"to_offset"`
	// From and Until bound when it failed (kafkakit-failed-at, else the
	// dead letter's timestamp), RFC 3339: From included, Until not.
	From  string `json:"from"`
	Until string `json:"until"`
}

// filter checks s and returns it as dlq's filter, nil when s selects all.
func (s *Selector) filter() (func(dlq.Letter) bool, *apicontract.Error) {
	if s == nil {
		return nil, nil
	}
	var from, until time.Time
	for _, t := range []struct {
		field, v string
		to       *time.Time
	}{{"select.from", s.From, &from}, {"select.until", s.Until, &until}} {
		if t.v == "" {
			continue
		}
		var err error
		if *t.to, err = time.Parse(time.RFC3339Nano, t.v); err != nil {
			return nil, badRequest(t.field, fmt.Sprintf("%q is not an RFC 3339 time such as 2026-01-02T15:04:05Z", t.v))
		}
	}
	switch {
	case s.Partition != nil && *s.Partition < 0:
		return nil, badRequest("select.partition", fmt.Sprintf("%d is negative", *s.Partition))
	case s.FromOffset != nil && *s.FromOffset < 0:
		return nil, badRequest("select.from_offset", fmt.Sprintf("%d is negative", *s.FromOffset))
	case s.ToOffset != nil && *s.ToOffset < 0:
		return nil, badRequest("select.to_offset", fmt.Sprintf("%d is negative", *s.ToOffset))
	case s.FromOffset != nil && s.ToOffset != nil && *s.ToOffset < *s.FromOffset:
		return nil, badRequest("select.to_offset", fmt.Sprintf("%d is before from_offset %d", *s.ToOffset, *s.FromOffset))
	case !from.IsZero() && !until.IsZero() && !until.After(from):
		return nil, badRequest("select.until", "is not after select.from")
	}
	return func(l dlq.Letter) bool {
		return (s.OriginalTopic == "" || l.OriginalTopic == s.OriginalTopic) &&
			(s.Exception == "" || l.Exception == s.Exception) &&
			(s.Message == "" || strings.Contains(l.ExceptionMessage, s.Message)) &&
			(s.Key == nil || l.Key != nil && bytes.Equal(l.Key, []byte(*s.Key))) &&
			(s.Partition == nil || l.Partition == *s.Partition) &&
			(s.FromOffset == nil || l.Offset >= *s.FromOffset) &&
			(s.ToOffset == nil || l.Offset <= *s.ToOffset) &&
			(from.IsZero() || !l.FailedAt.Before(from)) &&
			(until.IsZero() || l.FailedAt.Before(until))
	}, nil
}
