package httpapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/valyala/fastjson"
)

// benchBody is a send body like the bench's: 256 bytes of value.
var benchBody = []byte(`{"topic":"bench","key":"user-123","value":"` + strings.Repeat("x", 256) + `","headers":{"source":"bench"}}`)

// decodeInput is a body BenchmarkDecode decodes, its name, and whether
// it is a batch's body rather than a send's.
type decodeInput struct {
	name  string
	body  []byte
	batch bool
}

// decodeWays are the ways BenchmarkDecode decodes each body, by the name
// each sub-benchmark has after the body's.
var decodeWays = []struct {
	name string
	run  func(b *testing.B, in decodeInput)
}{
	{"scan+fastjson", benchParse},
	{"scan+fastjson+messages", benchParseMessages},
	{"fastjson-validate+parse", benchValidateParse},
	{"scan-only", benchScanOnly},
	{"fastjson-validate-only", benchValidateOnly},
	{"encoding-json", benchEncodingJSON},
}

// BenchmarkDecode compares the ways a body could be decoded; the figures
// are quoted where the choice is made (scanner's doc comment).
func BenchmarkDecode(b *testing.B) {
	batch := []byte(`{"messages":[` + strings.Repeat(string(benchBody)+",", 99) + string(benchBody) + `]}`)
	// deep is a send whose value nests as deeply as MaxDepth allows.
	deep := []byte(`{"topic":"bench","value":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `}`)
	for _, in := range []decodeInput{{"send", benchBody, false}, {"batch100", batch, true}, {"deep", deep, false}} {
		for _, way := range decodeWays {
			b.Run(in.name+"/"+way.name, func(b *testing.B) { way.run(b, in) })
		}
	}
}

func benchParse(b *testing.B, in decodeInput) {
	b.SetBytes(int64(len(in.body)))
	for b.Loop() {
		req, e := parse(in.body)
		if e != nil {
			b.Fatal(e)
		}
		req.release()
	}
}

// benchParseMessages is the whole decoding a send route does, to the
// messages.
func benchParseMessages(b *testing.B, in decodeInput) {
	b.SetBytes(int64(len(in.body)))
	for b.Loop() {
		req, e := parse(in.body)
		if e != nil {
			b.Fatal(e)
		}
		if in.batch {
			_, _, e = req.messages(1000)
		} else {
			_, e = req.message(req.root)
		}
		if e != nil {
			b.Fatal(e)
		}
		req.release()
	}
}

// benchValidateParse is the decoding before scanner: fastjson's
// validator, then the same pooled parse and arena.
func benchValidateParse(b *testing.B, in decodeInput) {
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
}

func benchScanOnly(b *testing.B, in decodeInput) {
	b.SetBytes(int64(len(in.body)))
	for b.Loop() {
		s := scanner{b: in.body}
		if e := s.scan(); e != nil {
			b.Fatal(e)
		}
	}
}

func benchValidateOnly(b *testing.B, in decodeInput) {
	b.SetBytes(int64(len(in.body)))
	for b.Loop() {
		if err := fastjson.ValidateBytes(in.body); err != nil {
			b.Fatal(err)
		}
	}
}

func benchEncodingJSON(b *testing.B, in decodeInput) {
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
}
