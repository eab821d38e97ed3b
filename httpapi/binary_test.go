package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// allBytes is 0x00 to 0xFF, which no JSON string can carry as text.
var allBytes = func() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

// binaryMessage is a send body with every byte as key, value and a header
// value, headers with a repeated key and a null value, and a timestamp.
func binaryMessage(topic string) string {
	b64 := base64.StdEncoding.EncodeToString(allBytes)
	return `{"topic":"` + topic + `","key":"` + b64 + `","key_encoding":"base64",` +
		`"value":"` + b64 + `","value_encoding":"base64","timestamp":"2024-05-01T12:00:00.123Z",` +
		`"headers":[{"key":"h","value":"` + b64 + `","value_encoding":"base64"},{"key":"dup","value":"1"},` +
		`{"key":"nil","value":null},{"key":"dup","value":"2"},{"key":"json","value":{"a":[1]}}]}`
}

func checkBinaryRecord(t *testing.T, r *kgo.Record) {
	t.Helper()
	if !bytes.Equal(r.Key, allBytes) || !bytes.Equal(r.Value, allBytes) {
		t.Errorf("key %x value %x, want every byte", r.Key, r.Value)
	}
	if want := time.UnixMilli(1714564800123); !r.Timestamp.Equal(want) {
		t.Errorf("timestamp %v, want %v", r.Timestamp, want)
	}
	want := []kgo.RecordHeader{{Key: "h", Value: allBytes}, {Key: "dup", Value: []byte("1")},
		{Key: "nil"}, {Key: "dup", Value: []byte("2")}, {Key: "json", Value: []byte(`{"a":[1]}`)}}
	if len(r.Headers) != len(want) {
		t.Fatalf("headers %v, want %v", r.Headers, want)
	}
	for i, h := range r.Headers {
		if h.Key != want[i].Key || !bytes.Equal(h.Value, want[i].Value) || (h.Value == nil) != (want[i].Value == nil) {
			t.Errorf("header %d: %q=%q (nil %v), want %q=%q", i, h.Key, h.Value, h.Value == nil, want[i].Key, want[i].Value)
		}
	}
}

// TestBinaryRoundTrip sends every byte as key, value and header over real
// HTTP and reads the record back with a franz-go client: byte-identical,
// headers in order with duplicates and a null, the timestamp kept.
func TestBinaryRoundTrip(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("bin", 1), kafkatest.Topic("binbatch", 1))
	a := newAPI(t, c)
	if ans := a.post(t, "/kafka/send", binaryMessage("bin")); ans.status != 200 {
		t.Fatalf("got %d %s", ans.status, ans.raw)
	} else if ans.body["timestamp"] != "2024-05-01T12:00:00.123Z" {
		t.Errorf("answered timestamp %v", ans.body["timestamp"])
	}
	checkBinaryRecord(t, c.ReadAll(t, "bin", 1, 10*time.Second)[0])

	ans := a.post(t, "/kafka/send-batch", `{"messages":[`+binaryMessage("binbatch")+`,`+
		strings.Replace(binaryMessage("binbatch"), `"2024-05-01T12:00:00.123Z"`, `1714564800123`, 1)+`]}`)
	if ans.status != 200 {
		t.Fatalf("batch: got %d %s", ans.status, ans.raw)
	}
	for _, r := range c.ReadAll(t, "binbatch", 2, 10*time.Second) {
		checkBinaryRecord(t, r)
	}
}

// TestEncodingsDefined pins what each encoding sends.
func TestEncodingsDefined(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("encs", 1))
	a := newAPI(t, c)
	tests := []struct {
		fields string
		key    string
		value  string
		nilVal bool
		nilKey bool
	}{
		{`"key":"k","value":"v"`, "k", "v", false, false},
		{`"key":"k","key_encoding":"json","value":"v","value_encoding":"json"`, `"k"`, `"v"`, false, false},
		{`"key":{"id": 1},"key_encoding":"json","value":[1, 2.50, "\u0000\u001f\"\\\n é"]`, `{"id":1}`, `[1,2.50,"\u0000\u001f\"\\\n é"]`, false, false},
		{`"key":"aGk=","key_encoding":"base64","value":"aGk","value_encoding":"base64"`, "hi", "hi", false, false},
		{`"key":"","key_encoding":"base64","value":"","value_encoding":"base64"`, "", "", false, false},
		{`"key":null,"key_encoding":"base64","value":null,"value_encoding":"json"`, "", "", true, true},
		{`"value":"v","value_encoding":"string","key_encoding":null`, "", "v", false, true},
		{`"value":"+/+/","value_encoding":"base64"`, "", "\xfb\xff\xbf", false, true},
		{`"value":"\u0000\u000b\u00e9\/","value_encoding":"json"`, "", `"\u0000\u000bé/"`, false, true},
	}
	for i, tt := range tests {
		if ans := a.post(t, "/kafka/send", `{"topic":"encs",`+tt.fields+`}`); ans.status != 200 {
			t.Fatalf("%d %s: got %d %s", i, tt.fields, ans.status, ans.raw)
		}
	}
	for i, r := range c.ReadAll(t, "encs", len(tests), 10*time.Second) {
		tt := tests[i]
		if string(r.Key) != tt.key || (r.Key == nil) != tt.nilKey || string(r.Value) != tt.value || (r.Value == nil) != tt.nilVal {
			t.Errorf("%s: stored key %q (nil %v) value %q (nil %v), want %q %q", tt.fields, r.Key, r.Key == nil, r.Value, r.Value == nil, tt.key, tt.value)
		}
	}
}

// TestEncodingErrors checks every way an encoding, a header or a
// timestamp can be wrong: a 400 naming the field, nothing sent.
func TestEncodingErrors(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("encerr", 1))
	a := newAPI(t, c)
	ok := `{"topic":"encerr"}`
	tests := []struct{ name, path, body, field string }{
		{"unknown value encoding", "/kafka/send", `{"topic":"encerr","value":"x","value_encoding":"hex"}`, "value_encoding"},
		{"unknown key encoding", "/kafka/send", `{"topic":"encerr","key":"x","key_encoding":"utf8"}`, "key_encoding"},
		{"encoding not a string", "/kafka/send", `{"topic":"encerr","value":"x","value_encoding":1}`, "value_encoding"},
		{"base64 value not a string", "/kafka/send", `{"topic":"encerr","value":{"a":1},"value_encoding":"base64"}`, "value"},
		{"base64 key not a string", "/kafka/send", `{"topic":"encerr","key":12,"key_encoding":"base64"}`, "key"},
		{"string value not a string", "/kafka/send", `{"topic":"encerr","value":12,"value_encoding":"string"}`, "value"},
		{"key not a string by default", "/kafka/send", `{"topic":"encerr","key":12}`, "key"},
		{"bad base64", "/kafka/send", `{"topic":"encerr","value":"a$b=","value_encoding":"base64"}`, "value"},
		{"base64 bad length", "/kafka/send", `{"topic":"encerr","value":"abcde","value_encoding":"base64"}`, "value"},
		{"base64 wrong padding", "/kafka/send", `{"topic":"encerr","value":"ab=","value_encoding":"base64"}`, "value"},
		{"base64 URL alphabet", "/kafka/send", `{"topic":"encerr","value":"-_-_","value_encoding":"base64"}`, "value"},
		{"base64 line break", "/kafka/send", `{"topic":"encerr","value":"aGk=\naGk=","value_encoding":"base64"}`, "value"},
		{"base64 nonzero trailing bits", "/kafka/send", `{"topic":"encerr","value":"aGl=","value_encoding":"base64"}`, "value"},
		{"headers number", "/kafka/send", `{"topic":"encerr","headers":1}`, "headers"},
		{"header item not object", "/kafka/send", `{"topic":"encerr","headers":[{"key":"a"},"b"]}`, "headers[1]"},
		{"header key missing", "/kafka/send", `{"topic":"encerr","headers":[{"value":"v"}]}`, "headers[0].key"},
		{"header key not string", "/kafka/send", `{"topic":"encerr","headers":[{"key":1}]}`, "headers[0].key"},
		{"header unknown field", "/kafka/send", `{"topic":"encerr","headers":[{"key":"a","vaule":"x"}]}`, "headers[0].vaule"},
		{"header bad base64", "/kafka/send", `{"topic":"encerr","headers":[{"key":"a"},{"key":"b","value":"!!","value_encoding":"base64"}]}`, "headers[1].value"},
		{"header unknown encoding", "/kafka/send", `{"topic":"encerr","headers":[{"key":"b","value":"x","value_encoding":"hex"}]}`, "headers[0].value_encoding"},
		{"header string encoding of number", "/kafka/send", `{"topic":"encerr","headers":[{"key":"b","value":1,"value_encoding":"string"}]}`, "headers[0].value"},
		{"timestamp text", "/kafka/send", `{"topic":"encerr","timestamp":"yesterday"}`, "timestamp"},
		{"timestamp without zone", "/kafka/send", `{"topic":"encerr","timestamp":"2024-05-01T12:00:00"}`, "timestamp"},
		{"timestamp fraction", "/kafka/send", `{"topic":"encerr","timestamp":1.5}`, "timestamp"},
		{"timestamp negative", "/kafka/send", `{"topic":"encerr","timestamp":-1}`, "timestamp"},
		{"timestamp too large", "/kafka/send", `{"topic":"encerr","timestamp":253402300800000}`, "timestamp"},
		{"timestamp before 1970", "/kafka/send", `{"topic":"encerr","timestamp":"1969-12-31T23:59:59Z"}`, "timestamp"},
		{"timestamp boolean", "/kafka/send", `{"topic":"encerr","timestamp":true}`, "timestamp"},
		{"timestamp digits as string", "/kafka/send", `{"topic":"encerr","timestamp":"1714564800123"}`, "timestamp"},
		{"in a batch", "/kafka/send-batch", `{"messages":[` + ok + `,` + ok + `,` + ok + `,{"topic":"encerr","headers":[{"key":"a"},{"key":"b","value":"%","value_encoding":"base64"}]}]}`, "messages[3].headers[1].value"},
		{"encoding in a batch", "/kafka/send-batch", `{"messages":[` + ok + `,{"topic":"encerr","value":"x","value_encoding":"b64"}]}`, "messages[1].value_encoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ans := a.post(t, tt.path, tt.body)
			if ans.status != 400 || ans.errorField("code") != "invalid_request" {
				t.Fatalf("got %d %s, want 400", ans.status, ans.raw)
			}
			if got := ans.errorField("field"); got != tt.field {
				t.Errorf("got field %q, want %q: %s", got, tt.field, ans.raw)
			}
			if ans.errorField("message") == "" {
				t.Errorf("no message: %s", ans.raw)
			}
		})
	}
	if n := totalRecords(t, c, "encerr"); n != 0 {
		t.Errorf("topic holds %d records after refused requests, want 0", n)
	}
}

func (a *api) cloudEvent(t *testing.T, query, body string, headers ...string) *answer {
	t.Helper()
	return a.do(t, http.MethodPost, "/kafka/send"+query, "application/cloudevents+json", body, headers...)
}

// TestCloudEventIn sends structured-mode events and reads the records
// back: ce_ headers, content-type, data as the value, partitionkey as the
// key.
func TestCloudEventIn(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("ce", 1))
	a := newAPI(t, c)
	b64 := base64.StdEncoding.EncodeToString(allBytes)
	tests := []struct {
		body    string
		key     string
		value   string
		headers string
	}{
		{`{"specversion":"1.0","type":"com.example.created","source":"/orders","id":"A1","time":"2024-05-01T12:00:00Z",
		  "subject":"o-1","dataschema":"https://example.com/s.json","comexampleext":"x","count":5,"flag":true,"partitionkey":"order-1",
		  "datacontenttype":"application/json","data":{"a": 1, "b": [true, null]}}`,
			"order-1", `{"a":1,"b":[true,null]}`,
			"ce_specversion=1.0 ce_id=A1 ce_source=/orders ce_type=com.example.created ce_subject=o-1 ce_time=2024-05-01T12:00:00Z " +
				"ce_dataschema=https://example.com/s.json ce_comexampleext=x ce_count=5 ce_flag=true ce_partitionkey=order-1 content-type=application/json"},
		{`{"specversion":"1.0","type":"t","source":"s","id":"2","data":"I'm just a string","subject":null}`,
			"", `"I'm just a string"`, "ce_specversion=1.0 ce_id=2 ce_source=s ce_type=t content-type=application/json"},
		{`{"specversion":"1.0","type":"t","source":"s","id":"3","datacontenttype":"application/xml","data":"<much wow=\"xml\"/>"}`,
			"", `<much wow="xml"/>`, "ce_specversion=1.0 ce_id=3 ce_source=s ce_type=t content-type=application/xml"},
		{`{"specversion":"1.0","type":"t","source":"s","id":"4","datacontenttype":"application/octet-stream","data_base64":"` + b64 + `"}`,
			"", string(allBytes), "ce_specversion=1.0 ce_id=4 ce_source=s ce_type=t content-type=application/octet-stream"},
		{`{"specversion":"1.0","type":"t","source":"s","id":"5"}`, "", "", "ce_specversion=1.0 ce_id=5 ce_source=s ce_type=t"},
		{`{"specversion":"1.0","type":"t","source":"s","id":"6","datacontenttype":"application/cloudevents+json; charset=utf-8","data":"x"}`,
			"", `"x"`, "ce_specversion=1.0 ce_id=6 ce_source=s ce_type=t content-type=application/cloudevents+json; charset=utf-8"},
	}
	for i, tt := range tests {
		if ans := a.cloudEvent(t, "?topic=ce", tt.body); ans.status != 200 || ans.body["offset"] != float64(i) {
			t.Fatalf("event %d: got %d %s", i, ans.status, ans.raw)
		}
	}
	for i, r := range c.ReadAll(t, "ce", len(tests), 10*time.Second) {
		tt := tests[i]
		var hs []string
		for _, h := range r.Headers {
			hs = append(hs, h.Key+"="+string(h.Value))
		}
		if got := strings.Join(hs, " "); got != tt.headers {
			t.Errorf("event %d: headers\n got %s\nwant %s", i, got, tt.headers)
		}
		if string(r.Key) != tt.key || (tt.key == "") != (r.Key == nil) || string(r.Value) != tt.value {
			t.Errorf("event %d: key %q value %q, want %q %q", i, r.Key, r.Value, tt.key, tt.value)
		}
		if i == 4 && r.Value != nil {
			t.Errorf("an event without data: value %q, want null", r.Value)
		}
	}
}

// TestCloudEventRefused checks the refusals of the CloudEvents input: a
// 400 naming the attribute, auth and the allowlist as for send, nothing
// sent.
func TestCloudEventRefused(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("ce", 1), kafkatest.Topic("closed", 1))
	a := newAPI(t, c, httpapi.AuthToken("s3cret"), httpapi.AllowedTopics("ce"))
	auth := []string{"Authorization", "Bearer s3cret"}
	ev := func(extra string) string {
		return `{"specversion":"1.0","type":"t","source":"s","id":"1"` + extra + `}`
	}
	tests := []struct{ name, query, body, field string }{
		{"no topic", "", ev(""), "topic"},
		{"bad topic", "?topic=a%20b", ev(""), "topic"},
		{"specversion missing", "?topic=ce", `{"type":"t","source":"s","id":"1"}`, "specversion"},
		{"specversion 0.3", "?topic=ce", `{"specversion":"0.3","type":"t","source":"s","id":"1"}`, "specversion"},
		{"id missing", "?topic=ce", `{"specversion":"1.0","type":"t","source":"s"}`, "id"},
		{"id null", "?topic=ce", `{"specversion":"1.0","type":"t","source":"s","id":null}`, "id"},
		{"id empty", "?topic=ce", `{"specversion":"1.0","type":"t","source":"s","id":""}`, "id"},
		{"id number", "?topic=ce", `{"specversion":"1.0","type":"t","source":"s","id":1}`, "id"},
		{"source missing", "?topic=ce", `{"specversion":"1.0","type":"t","id":"1"}`, "source"},
		{"source not a URI", "?topic=ce", `{"specversion":"1.0","type":"t","id":"1","source":"%zz"}`, "source"},
		{"type missing", "?topic=ce", `{"specversion":"1.0","source":"s","id":"1"}`, "type"},
		{"bad time", "?topic=ce", ev(`,"time":"noon"`), "time"},
		{"relative dataschema", "?topic=ce", ev(`,"dataschema":"s.json"`), "dataschema"},
		{"bad datacontenttype", "?topic=ce", ev(`,"datacontenttype":"json","data":1`), "datacontenttype"},
		{"data and data_base64", "?topic=ce", ev(`,"data":1,"data_base64":"AA=="`), "data_base64"},
		{"bad data_base64", "?topic=ce", ev(`,"data_base64":"***"`), "data_base64"},
		{"data_base64 not a string", "?topic=ce", ev(`,"data_base64":1`), "data_base64"},
		{"non-JSON data not a string", "?topic=ce", ev(`,"datacontenttype":"text/plain","data":{"a":1}`), "data"},
		{"extension object", "?topic=ce", ev(`,"ext":{"a":1}`), "ext"},
		{"extension fraction", "?topic=ce", ev(`,"ext":1.5`), "ext"},
		{"extension name", "?topic=ce", ev(`,"My-Ext":"x"`), "My-Ext"},
		{"attribute twice", "?topic=ce", ev(`,"id":"2"`), "id"},
		{"not JSON", "?topic=ce", `{"specversion":`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ans := a.cloudEvent(t, tt.query, tt.body, auth...)
			if ans.status != 400 || ans.errorField("code") != "invalid_request" {
				t.Fatalf("got %d %s, want 400", ans.status, ans.raw)
			}
			if got := ans.errorField("field"); got != tt.field {
				t.Errorf("got field %q, want %q: %s", got, tt.field, ans.raw)
			}
		})
	}
	if ans := a.cloudEvent(t, "?topic=ce", ev("")); ans.status != 401 {
		t.Errorf("without the token: got %d %s, want 401", ans.status, ans.raw)
	}
	if ans := a.cloudEvent(t, "?topic=closed", ev(""), auth...); ans.status != 403 || ans.errorField("field") != "topic" {
		t.Errorf("a topic not allowed: got %d %s, want 403", ans.status, ans.raw)
	}
	if ans := a.do(t, http.MethodPost, "/kafka/send?topic=ce", "application/cloudevents-batch+json", "["+ev("")+"]", auth...); ans.status != 415 {
		t.Errorf("a batch of events: got %d %s, want 415", ans.status, ans.raw)
	}
	for _, topic := range []string{"ce", "closed"} {
		if n := totalRecords(t, c, topic); n != 0 {
			t.Errorf("topic %s holds %d records after refused events, want 0", topic, n)
		}
	}
	if ans := a.cloudEvent(t, "?topic=ce", ev(`,"data":{"ok":true}`), auth...); ans.status != 200 {
		t.Fatalf("a good event: got %d %s", ans.status, ans.raw)
	}
}
