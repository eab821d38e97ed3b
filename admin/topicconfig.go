package admin

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// configKind is the type of a topic setting's value.
type configKind int

const (
	kindLong   configKind = iota // a whole number, 64 bits
	kindInt                      // a whole number, 32 bits
	kindDouble                   // a decimal number
	kindBool                     // true or false
	kindEnum                     // one of a fixed set of words
	kindList                     // a comma-separated set of words, each from a fixed set
)

// configSpec is what a topic setting may hold, as Apache Kafka's
// TopicConfig defines it: its kind, the words of an enum or list, and the
// bounds of a number (both included).
type configSpec struct {
	kind     configKind
	words    []string
	min, max float64
}

// topicConfigs are the topic settings the admin API changes: the ones an
// operator changes (retention, compaction, sizes, durability). Any other
// key is refused, so that a misspelt key is an error rather than a
// setting the broker may refuse late or, in some versions, ignore.
var topicConfigs = map[string]configSpec{
	"cleanup.policy":                  {kind: kindList, words: []string{"delete", "compact"}},
	"compression.type":                {kind: kindEnum, words: []string{"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"}},
	"delete.retention.ms":             {kind: kindLong, min: 0, max: math.MaxInt64},
	"file.delete.delay.ms":            {kind: kindLong, min: 0, max: math.MaxInt64},
	"max.compaction.lag.ms":           {kind: kindLong, min: 1, max: math.MaxInt64},
	"max.message.bytes":               {kind: kindInt, min: 0, max: math.MaxInt32},
	"message.timestamp.after.max.ms":  {kind: kindLong, min: 0, max: math.MaxInt64},
	"message.timestamp.before.max.ms": {kind: kindLong, min: 0, max: math.MaxInt64},
	"message.timestamp.type":          {kind: kindEnum, words: []string{"CreateTime", "LogAppendTime"}},
	"min.cleanable.dirty.ratio":       {kind: kindDouble, min: 0, max: 1},
	"min.compaction.lag.ms":           {kind: kindLong, min: 0, max: math.MaxInt64},
	"min.insync.replicas":             {kind: kindInt, min: 1, max: math.MaxInt32},
	"retention.bytes":                 {kind: kindLong, min: -1, max: math.MaxInt64},
	"retention.ms":                    {kind: kindLong, min: -1, max: math.MaxInt64},
	"segment.bytes":                   {kind: kindInt, min: 1 << 20, max: math.MaxInt32},
	"segment.ms":                      {kind: kindLong, min: 1, max: math.MaxInt64},
	"unclean.leader.election.enable":  {kind: kindBool},
}

// TopicConfigKeys returns the topic settings POST /kafka/topics and
// PATCH /kafka/topics/{topic} accept, sorted.
func TopicConfigKeys() []string { return slices.Sorted(maps.Keys(topicConfigs)) }

// configValues checks each setting of raw, a JSON object of settings,
// and returns them as Kafka's strings: nil for a JSON null (back to the
// default), which only a change allows. The field of an error is
// "configs.<key>".
func configValues(raw map[string]json.RawMessage, allowNull bool) (map[string]*string, *fieldError) {
	out := make(map[string]*string, len(raw))
	for _, key := range slices.Sorted(maps.Keys(raw)) {
		field := "configs." + key
		spec, ok := topicConfigs[key]
		if !ok {
			return nil, &fieldError{field, "is not a topic setting this API changes; it changes " + strings.Join(TopicConfigKeys(), ", ")}
		}
		if string(raw[key]) == "null" {
			if !allowNull {
				return nil, &fieldError{field, "is null; a new topic takes the broker's default for a setting it does not name"}
			}
			out[key] = nil
			continue
		}
		v, err := spec.value(raw[key])
		if err != nil {
			return nil, &fieldError{field, err.Error()}
		}
		out[key] = &v
	}
	return out, nil
}

// value checks one JSON value against s: a number or a string holding
// one for numbers, true, false or their strings for a boolean, a word
// for an enum, and a string of words or an array of them for a list.
func (s configSpec) value(raw json.RawMessage) (string, error) {
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		var words []string
		if s.kind == kindList && json.Unmarshal(raw, &words) == nil {
			text = strings.Join(words, ",")
		} else if len(raw) == 0 || raw[0] == '{' || raw[0] == '[' || raw[0] == '"' {
			return "", fmt.Errorf("%s is not %s", shown(raw), s.want())
		} else {
			text = string(raw) // a number or a boolean, checked below
		}
	}
	switch s.kind {
	case kindLong, kindInt:
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil || float64(n) < s.min || float64(n) > s.max {
			return "", fmt.Errorf("%s is not %s", shown(raw), s.want())
		}
		return strconv.FormatInt(n, 10), nil
	case kindDouble:
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsNaN(f) || f < s.min || f > s.max {
			return "", fmt.Errorf("%s is not %s", shown(raw), s.want())
		}
		return strconv.FormatFloat(f, 'g', -1, 64), nil
	case kindBool:
		if text != "true" && text != "false" {
			return "", fmt.Errorf("%s is not %s", shown(raw), s.want())
		}
		return text, nil
	case kindEnum:
		if !slices.Contains(s.words, text) {
			return "", fmt.Errorf("%s is not %s", shown(raw), s.want())
		}
		return text, nil
	}
	var kept []string
	for w := range strings.SplitSeq(text, ",") {
		w = strings.TrimSpace(w)
		if !slices.Contains(s.words, w) || slices.Contains(kept, w) {
			return "", fmt.Errorf("%s is not %s", shown(raw), s.want())
		}
		kept = append(kept, w)
	}
	return strings.Join(kept, ","), nil
}

// want says in words what a value of s must be.
func (s configSpec) want() string {
	bounds := func(what string) string {
		switch {
		case s.max == math.MaxInt64 || s.max == math.MaxInt32:
			return fmt.Sprintf("%s of at least %g", what, s.min)
		default:
			return fmt.Sprintf("%s from %g to %g", what, s.min, s.max)
		}
	}
	switch s.kind {
	case kindLong, kindInt:
		return bounds("a whole number")
	case kindDouble:
		return bounds("a number")
	case kindBool:
		return "true or false"
	case kindEnum:
		return "one of " + strings.Join(s.words, ", ")
	}
	return "a comma-separated list of " + strings.Join(s.words, ", ")
}

// shown is a value as an error quotes it, cut to 64 bytes: it comes from
// the request.
func shown(raw json.RawMessage) string {
	s, cut := cutText(string(raw), 64)
	if cut {
		s += "…"
	}
	return s
}
