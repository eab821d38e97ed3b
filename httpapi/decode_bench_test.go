package httpapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/valyala/fastjson"
)

// benchBody is a send body like the bench's: 256 bytes of value.
var benchBody = []byte(`{"topic":"bench","key":"user-123","value":"` + strings.Repeat("x", 256) + `","headers":{"source":"bench"}}`)

// BenchmarkDecode compares the ways a body could be decoded; the figures
// are quoted where the choice is made (scanner's doc comment).
func BenchmarkDecode(b *testing.B) {
	batch := []byte(`{"messages":[` + strings.Repeat(string(benchBody)+",", 99) + string(benchBody) + `]}`)
	// deep is a send whose value nests as deeply as MaxDepth allows.
	deep := []byte(`{"topic":"bench","value":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `}`)
	for _, in := range []struct {
		name string
		body []byte
	}{{"send", benchBody}, {"batch100", batch}, {"deep", deep}} {
		b.Run(in.name+"/scan+fastjson", func(b *testing.B) {
			b.SetBytes(int64(len(in.body)))
			for b.Loop() {
				req, e := parse(in.body)
				if e != nil {
					b.Fatal(e)
				}
				req.release()
			}
		})
		b.Run(in.name+"/scan+fastjson+messages", func(b *testing.B) {
			// The whole decoding a send route does, to the messages.
			b.SetBytes(int64(len(in.body)))
			for b.Loop() {
				req, e := parse(in.body)
				if e != nil {
					b.Fatal(e)
				}
				if in.name == "send" {
					_, e = req.message(req.root)
				} else {
					_, _, e = req.messages(1000)
				}
				if e != nil {
					b.Fatal(e)
				}
				req.release()
			}
		})
		b.Run(in.name+"/fastjson-validate+parse", func(b *testing.B) {
			// The decoding before scanner: fastjson's validator, then
			// the same pooled parse and arena.
			b.SetBytes(int64(len(in.body)))
			for b.Loop() {
				if err := fastjson.ValidateBytes(in.body); err != nil {
					b.Fatal(err)
				}
				p := parsers.Get()
				root, err := p.ParseBytes(in.body)
				if err != nil {
					b.Fatal(err)
				}
				req := &request{parser: p, root: root, arena: make([]byte, 0, len(in.body))}
				req.release()
			}
		})
		b.Run(in.name+"/scan-only", func(b *testing.B) {
			b.SetBytes(int64(len(in.body)))
			for b.Loop() {
				s := scanner{b: in.body}
				if e := s.scan(); e != nil {
					b.Fatal(e)
				}
			}
		})
		b.Run(in.name+"/fastjson-validate-only", func(b *testing.B) {
			b.SetBytes(int64(len(in.body)))
			for b.Loop() {
				if err := fastjson.ValidateBytes(in.body); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(in.name+"/encoding-json", func(b *testing.B) {
			b.SetBytes(int64(len(in.body)))
			type msg struct {
				Topic     string            `json:"topic"`
				Key       *string           `json:"key"`
				Value     json.RawMessage   `json:"value"`
				Headers   map[string]string `json:"headers"`
				Partition *int32            `json:"partition"`
			}
			for b.Loop() {
				var v struct {
					msg
					Messages []msg `json:"messages"`
				}
				if err := json.Unmarshal(in.body, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
