package httpapi

import "strings"

// topicFilter is the set of topics a client may send to.
type topicFilter struct {
	exact    map[string]bool
	prefixes []string
}

func newTopicFilter(patterns []string) *topicFilter {
	if len(patterns) == 0 {
		return nil
	}
	f := &topicFilter{exact: make(map[string]bool)}
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			f.prefixes = append(f.prefixes, prefix)
		} else {
			f.exact[p] = true
		}
	}
	return f
}

// allows reports whether topic may be sent to; a nil filter allows all.
func (f *topicFilter) allows(topic string) bool {
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
