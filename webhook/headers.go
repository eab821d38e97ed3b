package webhook

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// Headers are extra request headers that may hold credentials, such as an
// Authorization token. They print their names only: not through fmt, slog
// or encoding/json do their values show.
type Headers struct{ h http.Header }

// ParseHeaders reads headers written as "Name: value" entries, one per
// line, or separated by ";" when there is no newline at all (so that a
// value on its own line may hold a ";", as a Cookie does). Blank entries
// are skipped and spaces around names and values trimmed; a name may come
// more than once. Errors number the entry from 1 and never show a value,
// nor a name that is not valid, which may be a misplaced value.
func ParseHeaders(s string) (Headers, error) {
	hs := Headers{h: make(http.Header)}
	sep := ";"
	if strings.Contains(s, "\n") {
		sep = "\n"
	}
	for i, entry := range strings.Split(s, sep) {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		name, value, ok := strings.Cut(entry, ":")
		if !ok {
			return Headers{}, fmt.Errorf("webhook: header entry %d has no ':' (want Name: value)", i+1)
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !httpguts.ValidHeaderFieldName(name) {
			return Headers{}, fmt.Errorf("webhook: header entry %d: the name before ':' is not a valid header name (letters, digits and !#$%%&'*+-.^_`|~ only)", i+1)
		}
		if !httpguts.ValidHeaderFieldValue(value) {
			return Headers{}, fmt.Errorf("webhook: header entry %d (%s): the value holds a control character", i+1, name)
		}
		if reservedHeader(name) {
			return Headers{}, fmt.Errorf("webhook: header entry %d (%s): the webhook sets this header itself", i+1, name)
		}
		hs.h.Add(name, value)
	}
	return hs, nil
}

// reservedHeader reports whether the handler writes header name itself,
// so that an extra header would break the body's framing, its signature
// or its CloudEvents attributes.
func reservedHeader(name string) bool {
	lower := strings.ToLower(name)
	switch lower {
	case "content-type", "content-length", "transfer-encoding", "host", "connection":
		return true
	}
	for _, prefix := range []string{"webhook-", "kafkakit-", "ce-"} {
		if strings.HasPrefix(lower, prefix) {
			return true
		}
	}
	return false
}

// Len is the number of header values.
func (hs Headers) Len() int {
	n := 0
	for _, vs := range hs.h {
		n += len(vs)
	}
	return n
}

// String lists the names with their values redacted, sorted, as
// "Authorization: [REDACTED]; X-Tenant: [REDACTED]".
func (hs Headers) String() string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(hs.h)) {
		for range hs.h[name] {
			parts = append(parts, name+": "+redacted)
		}
	}
	return strings.Join(parts, "; ")
}

// GoString keeps %#v from printing the values.
func (hs Headers) GoString() string { return `webhook.Headers("` + hs.String() + `")` }

// Format keeps every fmt verb from printing the values.
func (hs Headers) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, hs.String()) }

// LogValue keeps slog from printing the values.
func (hs Headers) LogValue() slog.Value { return slog.StringValue(hs.String()) }

// MarshalText keeps encoding/json and friends from printing the values.
func (hs Headers) MarshalText() ([]byte, error) { return []byte(hs.String()), nil }
