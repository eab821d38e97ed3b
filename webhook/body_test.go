package webhook_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/webhook"
	"github.com/twmb/franz-go/pkg/kgo"
)

// received is a body as a receiver decodes it with encoding/json alone,
// following the documented format rather than the package's types.
type received struct {
	Topic       string  `json:"topic"`
	Partition   int32   `json:"partition"`
	Offset      int64   `json:"offset"`
	Timestamp   string  `json:"timestamp"`
	Key         *string `json:"key"`
	KeyEncoding *string `json:"key_encoding"`
	Headers     []struct {
		Key           string  `json:"key"`
		KeyEncoding   *string `json:"key_encoding"`
		Value         *string `json:"value"`
		ValueEncoding *string `json:"value_encoding"`
	} `json:"headers"`
	Value         json.RawMessage `json:"value"`
	ValueEncoding *string         `json:"value_encoding"`
}

// decoded is the record a receiver recovers from a body.
type decoded struct {
	key, value []byte
	headers    []kgo.RecordHeader
}

// decode checks that raw is valid UTF-8 JSON with exactly the documented
// fields and recovers the record's bytes from it.
func decode(raw []byte) (received, decoded, error) {
	var r received
	var d decoded
	if !utf8.Valid(raw) || !json.Valid(raw) {
		return r, d, fmt.Errorf("not UTF-8 JSON: %q", raw)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, d, err
	}
	var err error
	if d.key, err = bytesOf(r.Key, r.KeyEncoding); err != nil {
		return r, d, fmt.Errorf("key: %w", err)
	}
	for i, h := range r.Headers {
		key := []byte(h.Key)
		if h.KeyEncoding != nil {
			if key, err = bytesOf(&h.Key, h.KeyEncoding); err != nil {
				return r, d, fmt.Errorf("header %d key: %w", i, err)
			}
		}
		value, err := bytesOf(h.Value, h.ValueEncoding)
		if err != nil {
			return r, d, fmt.Errorf("header %d value: %w", i, err)
		}
		d.headers = append(d.headers, kgo.RecordHeader{Key: string(key), Value: value})
	}
	switch {
	case string(r.Value) == "null":
		d.value, err = bytesOf(nil, r.ValueEncoding)
	case r.ValueEncoding != nil && *r.ValueEncoding == "json":
		d.value = r.Value
	default:
		var s string
		if err = json.Unmarshal(r.Value, &s); err == nil {
			d.value, err = bytesOf(&s, r.ValueEncoding)
		}
	}
	return r, d, err
}

// bytesOf decodes one string field by its encoding field.
func bytesOf(s, enc *string) ([]byte, error) {
	switch {
	case s == nil && enc == nil:
		return nil, nil
	case s == nil || enc == nil:
		return nil, fmt.Errorf("value %v with encoding %v", s, enc)
	case *enc == "string":
		return []byte(*s), nil
	case *enc == "base64":
		return base64.StdEncoding.DecodeString(*s)
	}
	return nil, fmt.Errorf("unknown encoding %q", *enc)
}

// sameRecord says how d differs from what was sent, or "".
func sameRecord(key, value []byte, headers []kgo.RecordHeader, d decoded) string {
	if !bytes.Equal(d.key, key) || (d.key == nil) != (key == nil) {
		return fmt.Sprintf("key %q, want %q", d.key, key)
	}
	if !bytes.Equal(d.value, value) || (d.value == nil) != (value == nil) {
		return fmt.Sprintf("value %q, want %q", d.value, value)
	}
	if !slices.EqualFunc(d.headers, headers, func(a, b kgo.RecordHeader) bool {
		return a.Key == b.Key && bytes.Equal(a.Value, b.Value) && (a.Value == nil) == (b.Value == nil)
	}) {
		return fmt.Sprintf("headers %q, want %q", d.headers, headers)
	}
	return ""
}

func TestBodyEncodings(t *testing.T) {
	kafkatest.Parallel(t)
	tests := []struct {
		name      string
		value     []byte
		wantValue string
		wantEnc   string
	}{
		{"object", []byte(`{"a": 1}`), `{"a": 1}`, `"json"`},
		{"number", []byte(`42`), `42`, `"json"`},
		{"json string", []byte(`"hi"`), `"hi"`, `"json"`},
		{"escaped surrogate", []byte(`"\ud800"`), `"\ud800"`, `"json"`},
		{"json, not UTF-8", []byte("{\"a\":\"\xff\xfe\"}"), `"eyJhIjoi//4ifQ=="`, `"base64"`},
		{"json with a newline after it", []byte("[1]\n"), `"[1]\n"`, `"string"`},
		{"text", []byte(`hello <world>`), `"hello \u003cworld\u003e"`, `"string"`},
		{"binary", []byte{0xff, 0x00, 0xfe}, `"/wD+"`, `"base64"`},
		{"null", nil, `null`, `null`},
		{"empty", []byte{}, `""`, `"string"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := webhook.NewBody(&consumer.Message{Value: tt.value}).MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]json.RawMessage
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatalf("%s: %v", raw, err)
			}
			if string(got["value"]) != tt.wantValue || string(got["value_encoding"]) != tt.wantEnc {
				t.Errorf("got value %s (%s), want %s (%s)", got["value"], got["value_encoding"], tt.wantValue, tt.wantEnc)
			}
		})
	}
}

func TestBodyFields(t *testing.T) {
	kafkatest.Parallel(t)
	msg := &consumer.Message{Topic: "t", Partition: 1, Offset: 7, Key: []byte{0xff, 'k'}, Value: nil,
		Timestamp: time.Date(2026, 11, 27, 10, 0, 0, 123e6, time.FixedZone("CET", 3600)),
		Headers: []consumer.Header{
			{Key: "h", Value: []byte("v")}, {Key: "h", Value: []byte{0xff}}, {Key: "n", Value: nil},
			{Key: "e", Value: []byte{}}, {Key: "\xfe", Value: []byte("x")},
		}}
	raw, err := webhook.NewBody(msg).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"topic":"t","partition":1,"offset":7,"timestamp":"2026-11-27T09:00:00.123Z",` +
		`"key":"/2s=","key_encoding":"base64","headers":[` +
		`{"key":"h","value":"v","value_encoding":"string"},{"key":"h","value":"/w==","value_encoding":"base64"},` +
		`{"key":"n","value":null,"value_encoding":null},{"key":"e","value":"","value_encoding":"string"},` +
		`{"key":"/g==","key_encoding":"base64","value":"x","value_encoding":"string"}],` +
		`"value":null,"value_encoding":null}`
	if string(raw) != want {
		t.Errorf("got  %s\nwant %s", raw, want)
	}
	if _, err := (webhook.Body{Value: json.RawMessage("{\"a\":\"\xff\"}")}).MarshalJSON(); err == nil {
		t.Error("a Body whose value is not UTF-8 JSON marshalled")
	}
}

// TestBodyRoundTrip: records with every kind of key, value and header go
// through Kafka and the consumer to a real endpoint, which recovers each
// byte from the body with encoding/json.
func TestBodyRoundTrip(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("bytes", 1))
	headers := []kgo.RecordHeader{
		{Key: "dup", Value: []byte("first")}, {Key: "bin", Value: []byte{0x00, 0xff, 0xfe}},
		{Key: "dup", Value: []byte("second")}, {Key: "null", Value: nil}, {Key: "empty", Value: []byte{}},
		{Key: "\xff\xfekey", Value: []byte("héllo")}, {Key: "dup", Value: []byte("third")},
	}
	records := []*kgo.Record{
		{Key: []byte("k"), Value: []byte(`{"total": 12.5, "tags": ["a", "b"]}`), Headers: headers},
		{Key: []byte{0xff, 0x00}, Value: []byte("{\"a\":\"\xff\xfe\"}")},
		{Key: nil, Value: []byte{0x00, 0x01, 0xc3, 0x28}},
		{Key: []byte{}, Value: nil, Headers: []kgo.RecordHeader{{Key: "only", Value: nil}}},
		{Key: []byte("text"), Value: []byte("plain \"text\"\n<&>\u2028")},
	}
	for _, r := range records {
		r.Topic = "bytes"
	}
	var mu sync.Mutex
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, raw)
		mu.Unlock()
	}))
	defer srv.Close()
	c.Produce(t, records...)
	run(t, c, "bytes", webhook.New(srv.URL))
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(bodies) < len(records) {
			return fmt.Errorf("%d bodies, want %d", len(bodies), len(records))
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	for i, raw := range bodies[:len(records)] {
		r, d, err := decode(raw)
		if err != nil {
			t.Fatalf("body %d: %v", i, err)
		}
		want := records[r.Offset]
		if r.Topic != "bytes" || r.Partition != 0 || r.Offset != int64(i) {
			t.Errorf("body %d: topic %q partition %d offset %d", i, r.Topic, r.Partition, r.Offset)
		}
		if diff := sameRecord(want.Key, want.Value, want.Headers, d); diff != "" {
			t.Errorf("body %d: %s\n%s", i, diff, raw)
		}
	}
}

// FuzzBody: whatever bytes a record holds, the body is valid UTF-8 JSON
// and decodes back to exactly those bytes.
func FuzzBody(f *testing.F) {
	f.Add([]byte("k"), []byte(`{"a": 1}`), "h", []byte("v"), []byte{0xff}, uint8(0))
	f.Add([]byte{0xff}, []byte("{\"a\":\"\xff\xfe\"}"), "\xfe", []byte{}, []byte("x"), uint8(7))
	f.Add([]byte(nil), []byte(`"\ud800"`), "", []byte(nil), []byte(nil), uint8(2))
	f.Add([]byte("\xed\xa0\x80"), []byte(" [1] "), "h\u2028", []byte("\x00"), []byte("<>&"), uint8(5))
	f.Fuzz(func(t *testing.T, key, value []byte, hkey string, hv1, hv2 []byte, nulls uint8) {
		if nulls&1 != 0 {
			key = nil
		}
		if nulls&2 != 0 {
			value = nil
		}
		if nulls&4 != 0 {
			hv2 = nil
		}
		headers := []kgo.RecordHeader{{Key: hkey, Value: hv1}, {Key: "other", Value: value}, {Key: hkey, Value: hv2}}
		raw, err := webhook.NewBody(&consumer.Message{Key: key, Value: value, Headers: headers}).MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		_, d, err := decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		if diff := sameRecord(key, value, headers, d); diff != "" {
			t.Errorf("%s\n%s", diff, raw)
		}
	})
}
