package admin

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTrim: a listed record keeps its key, then its value, then its
// headers in order within its share, cut where the share runs out but
// never inside a UTF-8 sequence, says when it was cut, and keeps null
// apart from empty.
func TestTrim(t *testing.T) {
	euro := strings.Repeat("€", 10) // 3 bytes each
	for _, tc := range []struct {
		name             string
		in               kgo.Record
		share            int
		key, value       string
		nilKey, nilValue bool
		headers          int
		truncated        bool
	}{
		{name: "fits", in: kgo.Record{Key: []byte("k"), Value: []byte("v"), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("x")}}},
			share: 100, key: "k", value: "v", headers: 1},
		{name: "null and empty", in: kgo.Record{Key: nil, Value: []byte{}}, share: 10, nilKey: true, value: ""},
		{name: "null value", in: kgo.Record{Key: []byte{}, Value: nil}, share: 10, key: "", nilValue: true},
		{name: "value cut", in: kgo.Record{Key: []byte("kk"), Value: []byte("0123456789")}, share: 6, key: "kk", value: "0123", truncated: true},
		{name: "key takes all", in: kgo.Record{Key: []byte("0123456789"), Value: []byte("v")}, share: 4, key: "0123", value: "", truncated: true},
		{name: "not inside a rune", in: kgo.Record{Value: []byte(euro)}, share: 7, nilKey: true, value: "€€", truncated: true},
		{name: "headers left out from the first that does not fit",
			in:    kgo.Record{Value: []byte("v"), Headers: []kgo.RecordHeader{{Key: "a"}, {Key: "b", Value: bytes.Repeat([]byte("x"), 100)}, {Key: "c"}}},
			share: 1 + 2*headerCost + 2, nilKey: true, value: "v", headers: 1, truncated: true},
		{name: "countless empty headers", in: kgo.Record{Headers: make([]kgo.RecordHeader, 10000)}, share: 10 * headerCost,
			nilKey: true, nilValue: true, headers: 10, truncated: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, cut := trim(&tc.in, tc.share)
			if string(got.Key) != tc.key || (got.Key == nil) != tc.nilKey || string(got.Value) != tc.value || (got.Value == nil) != tc.nilValue ||
				len(got.Headers) != tc.headers || cut != tc.truncated {
				t.Errorf("got key %q value %q, %d headers, cut %v; want %q %q, %d, %v", got.Key, got.Value, len(got.Headers), cut,
					tc.key, tc.value, tc.headers, tc.truncated)
			}
			if !utf8.Valid(got.Value) && utf8.Valid(tc.in.Value) {
				t.Errorf("cut inside a UTF-8 sequence: %q", got.Value)
			}
		})
	}
}
