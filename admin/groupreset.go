package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ResetRequest is the body of POST /kafka/groups/{group}/reset.
type ResetRequest struct {
	// Topics are the topics to reset, each a name (all its partitions) or
	// {"topic","partitions":[...]}.
	Topics []ResetTopic `json:"topics"`
	// To is where the group goes: "earliest", "latest", an RFC 3339 time,
	// {"offset":N} or {"shift":N}.
	To ResetTarget `json:"to"`
	// DryRun answers what the reset would do and commits nothing.
	DryRun bool `json:"dry_run"`
}

// ResetTopic is one topic of a reset: all its partitions, or those
// named.
type ResetTopic struct {
	Topic      string  `json:"topic"`
	Partitions []int32 `json:"partitions,omitempty"`
}

// UnmarshalJSON takes a topic's name or {"topic","partitions"}.
func (t *ResetTopic) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		t.Partitions = nil
		return json.Unmarshal(b, &t.Topic)
	}
	type plain ResetTopic
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p plain
	if err := dec.Decode(&p); err != nil {
		return &fieldError{"topics", `each is a topic's name or {"topic":"...","partitions":[0,1]}: ` + err.Error()}
	}
	*t = ResetTopic(p)
	return nil
}

// The kinds of ResetTarget.
const (
	ToEarliest = "earliest"
	ToLatest   = "latest"
	ToTime     = "time"
	ToOffset   = "offset"
	ToShift    = "shift"
)

// ResetTarget is where a reset moves a group in each partition.
type ResetTarget struct {
	// Kind is ToEarliest, ToLatest, ToTime, ToOffset or ToShift.
	Kind string
	// Time is the time of ToTime: each partition goes to its first
	// record at or after it.
	Time time.Time
	// N is the offset of ToOffset, or the records to move by of ToShift
	// (negative: back, to read again).
	N int64
}

// UnmarshalJSON takes "earliest", "latest", an RFC 3339 time,
// {"offset":N} or {"shift":N}.
func (t *ResetTarget) UnmarshalJSON(b []byte) error {
	const want = `is "earliest", "latest", an RFC 3339 time, {"offset":N} or {"shift":N}`
	var s string
	if json.Unmarshal(b, &s) == nil {
		switch s {
		case ToEarliest, ToLatest:
			*t = ResetTarget{Kind: s}
			return nil
		}
		at, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return &fieldError{"to", strconv.Quote(cut(s)) + " " + want}
		}
		*t = ResetTarget{Kind: ToTime, Time: at}
		return nil
	}
	var o map[string]json.Number
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if dec.Decode(&o) != nil || len(o) != 1 {
		return &fieldError{"to", shown(b) + " " + want}
	}
	for kind, v := range o {
		n, err := v.Int64()
		switch {
		case kind != ToOffset && kind != ToShift:
			return &fieldError{"to", shown(b) + " " + want}
		case err != nil:
			return &fieldError{"to." + kind, shown(json.RawMessage(v)) + " is not a whole number"}
		case kind == ToOffset && n < 0:
			return &fieldError{"to.offset", fmt.Sprintf("%d is negative", n)}
		}
		*t = ResetTarget{Kind: kind, N: n}
	}
	return nil
}

// MarshalJSON writes t as UnmarshalJSON reads it.
func (t ResetTarget) MarshalJSON() ([]byte, error) {
	switch t.Kind {
	case ToTime:
		return json.Marshal(t.Time.UTC().Format(time.RFC3339Nano))
	case ToOffset, ToShift:
		return json.Marshal(map[string]int64{t.Kind: t.N})
	}
	return json.Marshal(t.Kind)
}

// String is t in words, for the audit trail.
func (t ResetTarget) String() string {
	b, _ := t.MarshalJSON()
	return string(b)
}

// cut is a name from a request as a message quotes it.
func cut(s string) string {
	c, _ := cutText(s, 256)
	return c
}

// ResetAnswer is what a reset did, or in a dry run would do.
type ResetAnswer struct {
	Group  string      `json:"group"`
	DryRun bool        `json:"dry_run"`
	To     ResetTarget `json:"to"`
	// Partitions has a row per partition reset, by topic and partition.
	Partitions []ResetRow `json:"partitions"`
	// Skipped and Reread are the rows' sums.
	Skipped int64 `json:"skipped"`
	Reread  int64 `json:"reread"`
}

// ResetRow is one partition of a reset. OldOffset is -1 where the group
// had committed nothing. Skipped counts the records the group will not
// read that it would have, Reread those it will read again, both counted
// from the old offset, or the log start where there is none or it is
// older than the log start. Note says where the target was moved to fit
// the log.
type ResetRow struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	OldOffset int64  `json:"old_offset"`
	NewOffset int64  `json:"new_offset"`
	LogStart  int64  `json:"log_start"`
	LogEnd    int64  `json:"log_end"`
	Skipped   int64  `json:"skipped"`
	Reread    int64  `json:"reread"`
	Note      string `json:"note,omitempty"`
}

// target places one partition's new offset, given its old one (-1 for
// none), its log's start and end, and at, the offset of the first record
// at or after a ToTime's time (the end when there is none).
func (t ResetTarget) target(old, start, end, at int64) (offset int64, note string) {
	switch t.Kind {
	case ToEarliest:
		return start, ""
	case ToLatest:
		return end, ""
	case ToTime:
		switch {
		case start == end:
			return end, ""
		case at <= start && start < end:
			return start, fmt.Sprintf("no record kept is older than the time: the log start (offset %d)", start)
		case at >= end:
			return end, fmt.Sprintf("every record kept is older than the time: the log end (offset %d)", end)
		}
		return at, ""
	case ToOffset:
		offset = t.N
	case ToShift:
		base := old
		if old < 0 {
			base, note = start, "no committed offset: shifted from the log start; "
		}
		offset = base + t.N
		if t.N > 0 && offset < base { // overflowed
			offset = end
		}
	}
	switch {
	case offset < start:
		return start, note + fmt.Sprintf("offset %d is before the log start: the log start (offset %d)", offset, start)
	case offset > end:
		return end, note + fmt.Sprintf("offset %d is past the log end: the log end (offset %d)", offset, end)
	}
	return offset, strings.TrimSuffix(note, "; ")
}

// row is one partition's reset with what it skips or reads again.
func row(topic string, p int32, old, start, end, newOffset int64, note string) ResetRow {
	from := min(max(old, start), end)
	return ResetRow{Topic: topic, Partition: p, OldOffset: old, NewOffset: newOffset, LogStart: start, LogEnd: end,
		Skipped: max(newOffset-from, 0), Reread: max(from-newOffset, 0), Note: note}
}
