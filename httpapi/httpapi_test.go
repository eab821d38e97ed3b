package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/kafkakit/kafkakit/idempotency"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// api is a real HTTP server on 127.0.0.1 in front of a kfake cluster.
type api struct {
	cluster *kafkatest.Cluster
	url     string
	client  *http.Client
}

func newAPI(t *testing.T, cluster *kafkatest.Cluster, opts ...httpapi.Option) *api {
	t.Helper()
	p, err := producer.New(cluster.Config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	srv := httptest.NewServer(httpapi.New(p, opts...))
	t.Cleanup(srv.Close)
	return &api{cluster: cluster, url: srv.URL, client: srv.Client()}
}

// answer is a decoded response.
type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (a *answer) errorField(name string) string {
	e, _ := a.body["error"].(map[string]any)
	s, _ := e[name].(string)
	return s
}

func (a *api) do(t *testing.T, method, path, contentType, body string, headers ...string) *answer {
	t.Helper()
	req, err := http.NewRequest(method, a.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	ans := &answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/json") {
		if err := json.Unmarshal(raw, &ans.body); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %q", method, path, raw)
		}
	}
	return ans
}

func (a *api) post(t *testing.T, path, body string) *answer {
	t.Helper()
	return a.do(t, http.MethodPost, path, "application/json", body)
}

// totalRecords is how many records topic holds.
func totalRecords(t *testing.T, c *kafkatest.Cluster, topic string) int {
	t.Helper()
	return len(c.ReadToEnd(t, topic))
}

// goodSend is a send request the server of
// TestBadInputIsRefusedAndNothingSent accepts.
const goodSend = `{"topic":"events","value":"ok"}`

// badInputTest is a request with a bad body and the refusal it gets.
type badInputTest struct {
	name, path, body string
	wantStatus       int
	wantField        string
}

// badInputTests are requests with bad bodies, for a server with batches
// of at most 5 and bodies of at most 4096 bytes, and the field each
// refusal must name.
func badInputTests() []badInputTest {
	long := strings.Repeat("t", 250)
	good := goodSend
	return []badInputTest{
		{"not JSON", "/kafka/send", `{"topic":`, 400, ""},
		{"garbage", "/kafka/send", `hello`, 400, ""},
		{"array", "/kafka/send", `[1,2]`, 400, ""},
		{"string", "/kafka/send", `"events"`, 400, ""},
		{"number", "/kafka/send", `42`, 400, ""},
		{"empty body", "/kafka/send", ``, 400, ""},
		{"whitespace body", "/kafka/send", "  \n", 400, ""},
		{"two objects", "/kafka/send", good + good, 400, ""},
		{"NaN value", "/kafka/send", `{"topic":"events","value":NaN}`, 400, ""},
		{"leading zero", "/kafka/send", `{"topic":"events","value":01}`, 400, ""},
		{"bad escape", "/kafka/send", `{"topic":"events","value":"\x"}`, 400, ""},
		{"control character", "/kafka/send", "{\"topic\":\"events\",\"value\":\"a\tb\"}", 400, ""},
		{"unknown field", "/kafka/send", `{"topic":"events","valeu":"x"}`, 400, "valeu"},
		{"topic missing", "/kafka/send", `{"value":"x"}`, 400, "topic"},
		{"topic null", "/kafka/send", `{"topic":null}`, 400, "topic"},
		{"topic empty", "/kafka/send", `{"topic":""}`, 400, "topic"},
		{"topic 250 long", "/kafka/send", `{"topic":"` + long + `"}`, 400, "topic"},
		{"topic ..", "/kafka/send", `{"topic":".."}`, 400, "topic"},
		{"topic .", "/kafka/send", `{"topic":"."}`, 400, "topic"},
		{"topic with space", "/kafka/send", `{"topic":"my events"}`, 400, "topic"},
		{"topic with slash", "/kafka/send", `{"topic":"a/b"}`, 400, "topic"},
		{"topic not string", "/kafka/send", `{"topic":7}`, 400, "topic"},
		{"key number", "/kafka/send", `{"topic":"events","key":123}`, 400, "key"},
		{"key object", "/kafka/send", `{"topic":"events","key":{"a":1}}`, 400, "key"},
		{"headers array of strings", "/kafka/send", `{"topic":"events","headers":["a"]}`, 400, "headers[0]"},
		{"headers string", "/kafka/send", `{"topic":"events","headers":"a=b"}`, 400, "headers"},
		{"header number", "/kafka/send", `{"topic":"events","headers":{"a":"b","n":1}}`, 400, "headers.n"},
		{"header null", "/kafka/send", `{"topic":"events","headers":{"a":null}}`, 400, "headers.a"},
		{"partition negative", "/kafka/send", `{"topic":"events","partition":-1}`, 400, "partition"},
		{"partition fraction", "/kafka/send", `{"topic":"events","partition":1.5}`, 400, "partition"},
		{"partition string", "/kafka/send", `{"topic":"events","partition":"1"}`, 400, "partition"},
		{"partition huge", "/kafka/send", `{"topic":"events","partition":99999999999}`, 400, "partition"},
		{"partition beyond count", "/kafka/send", `{"topic":"events","partition":3}`, 400, "partition"},
		{"messages missing", "/kafka/send-batch", `{}`, 400, "messages"},
		{"messages null", "/kafka/send-batch", `{"messages":null}`, 400, "messages"},
		{"messages empty", "/kafka/send-batch", `{"messages":[]}`, 400, "messages"},
		{"messages object", "/kafka/send-batch", `{"messages":{"topic":"events"}}`, 400, "messages"},
		{"messages over max", "/kafka/send-batch", `{"messages":[` + strings.Repeat(good+",", 5) + good + `]}`, 400, "messages"},
		{"one bad among good", "/kafka/send-batch", `{"messages":[` + good + `,` + good + `,{"topic":"a b"},` + good + `]}`, 400, "messages[2].topic"},
		{"bad partition among good", "/kafka/send-batch", `{"messages":[` + good + `,{"topic":"events","partition":7}]}`, 400, "messages[1].partition"},
		{"unknown field in element", "/kafka/send-batch", `{"messages":[` + good + `,{"topic":"events","x":1}]}`, 400, "messages[1].x"},
		{"element not object", "/kafka/send-batch", `{"messages":[` + good + `,"events"]}`, 400, "messages[1]"},
		{"batch unknown field", "/kafka/send-batch", `{"messages":[` + good + `],"extra":true}`, 400, "extra"},
	}
}

func TestBadInputIsRefusedAndNothingSent(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("events", 3), kafkatest.Topic("other", 1))
	a := newAPI(t, c, httpapi.MaxBatch(5), httpapi.MaxBodyBytes(4096))
	good := goodSend
	for _, tt := range badInputTests() {
		t.Run(tt.name, func(t *testing.T) {
			ans := a.post(t, tt.path, tt.body)
			if ans.status != tt.wantStatus {
				t.Fatalf("got %d %s, want %d", ans.status, ans.raw, tt.wantStatus)
			}
			if got := ans.errorField("code"); got != "invalid_request" {
				t.Errorf("got code %q, want invalid_request: %s", got, ans.raw)
			}
			if got := ans.errorField("field"); got != tt.wantField {
				t.Errorf("got field %q, want %q: %s", got, tt.wantField, ans.raw)
			}
			if ans.errorField("message") == "" {
				t.Errorf("no message: %s", ans.raw)
			}
		})
	}

	t.Run("wrong content type", func(t *testing.T) {
		for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "application/jsonx"} {
			ans := a.do(t, http.MethodPost, "/kafka/send", ct, good)
			if ans.status != 415 || ans.errorField("code") != "unsupported_media" {
				t.Errorf("Content-Type %q: got %d %s, want 415", ct, ans.status, ans.raw)
			}
		}
		if ans := a.do(t, http.MethodPost, "/kafka/send", "application/json; charset=utf-8", `{"topic":"other"}`); ans.status != 200 {
			t.Errorf("application/json with charset: got %d %s", ans.status, ans.raw)
		}
	})
	t.Run("body too large", func(t *testing.T) {
		big := `{"topic":"events","value":"` + strings.Repeat("x", 5000) + `"}`
		if ans := a.post(t, "/kafka/send", big); ans.status != 413 || ans.errorField("code") != "payload_too_large" {
			t.Errorf("got %d %s, want 413", ans.status, ans.raw)
		}
	})
	t.Run("wrong method", func(t *testing.T) {
		for _, path := range []string{"/kafka/send", "/kafka/send-batch"} {
			ans := a.do(t, http.MethodGet, path, "", "")
			if ans.status != 405 || ans.header.Get("Allow") != "POST" || ans.errorField("code") != "method_not_allowed" {
				t.Errorf("GET %s: got %d Allow=%q %s", path, ans.status, ans.header.Get("Allow"), ans.raw)
			}
		}
		if ans := a.do(t, http.MethodPost, "/healthz", "application/json", "{}"); ans.status != 405 || ans.header.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST /healthz: got %d Allow=%q", ans.status, ans.header.Get("Allow"))
		}
	})
	t.Run("unknown path", func(t *testing.T) {
		for _, path := range []string{"/", "/kafka", "/kafka/send/", "/kafka/sendx"} {
			if ans := a.post(t, path, good); ans.status != 404 || ans.errorField("code") != "not_found" {
				t.Errorf("POST %s: got %d %s", path, ans.status, ans.raw)
			}
		}
	})

	if n := totalRecords(t, c, "events"); n != 0 {
		t.Errorf("topic events holds %d records after bad requests, want 0", n)
	}
	// The server is unharmed.
	if ans := a.post(t, "/kafka/send", good); ans.status != 200 {
		t.Errorf("good request after bad ones: got %d %s", ans.status, ans.raw)
	}
}

// TestBodyTooLargeWithoutReadingIt sends a Content-Length far above the
// limit and only a few bytes: the answer must come at once.
func TestBodyTooLargeWithoutReadingIt(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t)
	a := newAPI(t, c, httpapi.MaxBodyBytes(1024))
	conn, err := net.Dial("tcp", strings.TrimPrefix(a.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /kafka/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{\"topic\":")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufioReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer while the body was still unsent: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("got %d, want 413", resp.StatusCode)
	}
}

func TestSendValueEncodings(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("enc", 1))
	a := newAPI(t, c)
	tests := []struct {
		value   string // JSON for the value field; "" leaves it out
		want    string
		wantNil bool
	}{
		{`"plain text"`, "plain text", false},
		{`"with \"quotes\" and \u00e9"`, `with "quotes" and é`, false},
		{`""`, "", false},
		{`{"userId": "123",  "type": "user_created"}`, `{"userId":"123","type":"user_created"}`, false},
		{`42`, "42", false},
		{`-1.5e3`, "-1.5e3", false},
		{`true`, "true", false},
		{`[1, "a", null]`, `[1,"a",null]`, false},
		{`null`, "", true},
		{``, "", true},
	}
	for i, tt := range tests {
		body := `{"topic":"enc","key":"k","partition":0`
		if tt.value != "" {
			body += `,"value":` + tt.value
		}
		body += `}`
		ans := a.post(t, "/kafka/send", body)
		if ans.status != 200 {
			t.Fatalf("value %s: got %d %s", tt.value, ans.status, ans.raw)
		}
		if got := ans.body["offset"]; got != float64(i) {
			t.Errorf("value %s: offset %v, want %d", tt.value, got, i)
		}
	}
	recs := c.ReadAll(t, "enc", len(tests), 10*time.Second)
	for i, tt := range tests {
		r := recs[i]
		if tt.wantNil != (r.Value == nil) || string(r.Value) != tt.want {
			t.Errorf("value %s: stored %q (nil %v), want %q (nil %v)", tt.value, r.Value, r.Value == nil, tt.want, tt.wantNil)
		}
	}
}

func TestSendAnswersWhereItLanded(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("user-events", 3))
	a := newAPI(t, c)
	ans := a.post(t, "/kafka/send", `{"topic":"user-events","key":"user-123","value":{"userId":"123"},"headers":{"source":"user-service","z":"1","a":"2"},"partition":2}`)
	if ans.status != 200 {
		t.Fatalf("got %d %s", ans.status, ans.raw)
	}
	if ans.body["topic"] != "user-events" || ans.body["partition"] != float64(2) || ans.body["offset"] != float64(0) {
		t.Errorf("got %s", ans.raw)
	}
	ts, err := time.Parse(time.RFC3339Nano, ans.body["timestamp"].(string))
	if err != nil || time.Since(ts) > time.Minute || !strings.HasSuffix(ans.body["timestamp"].(string), "Z") {
		t.Errorf("timestamp %v: %v", ans.body["timestamp"], err)
	}
	r := c.ReadAll(t, "user-events", 1, 10*time.Second)[0]
	if string(r.Key) != "user-123" || r.Partition != 2 || !r.Timestamp.Equal(ts) {
		t.Errorf("stored key %q partition %d timestamp %v", r.Key, r.Partition, r.Timestamp)
	}
	var names []string
	for _, h := range r.Headers {
		names = append(names, h.Key+"="+string(h.Value))
	}
	if got := strings.Join(names, ","); got != "source=user-service,z=1,a=2" {
		t.Errorf("headers %s, want them in request order", got)
	}
}

func TestBatchKeepsOrderAndReportsEach(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 3))
	a := newAPI(t, c)
	var msgs []string
	for i := range 60 {
		msgs = append(msgs, fmt.Sprintf(`{"topic":"orders","key":"customer-%d","value":%d}`, i%4, i))
	}
	ans := a.post(t, "/kafka/send-batch", `{"messages":[`+strings.Join(msgs, ",")+`]}`)
	if ans.status != 200 {
		t.Fatalf("got %d %s", ans.status, ans.raw)
	}
	results := ans.body["results"].([]any)
	if len(results) != 60 {
		t.Fatalf("got %d results", len(results))
	}
	byPartition := map[float64][]string{}
	for i, r := range results {
		res := r.(map[string]any)
		if res["error"] != nil || res["topic"] != "orders" {
			t.Fatalf("result %d: %v", i, res)
		}
		p := res["partition"].(float64)
		if off := res["offset"].(float64); off != float64(len(byPartition[p])) {
			t.Errorf("result %d: offset %v on partition %v, want %d", i, off, p, len(byPartition[p]))
		}
		byPartition[p] = append(byPartition[p], fmt.Sprint(i))
	}
	for _, r := range c.ReadToEnd(t, "orders") {
		if want := byPartition[float64(r.Partition)][r.Offset]; string(r.Value) != want {
			t.Errorf("partition %d offset %d holds %s, want %s", r.Partition, r.Offset, r.Value, want)
		}
	}
}

// TestBatchPartialFailure: a message the broker refuses fails alone; the
// answer is non-2xx with one result per message.
func TestBatchPartialFailure(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("ok", 1), kafkatest.Topic("denied", 1))
	a := newAPI(t, c)
	c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "denied", Err: kerr.TopicAuthorizationFailed, Count: -1})
	ans := a.post(t, "/kafka/send-batch", `{"messages":[{"topic":"ok","value":"1"},{"topic":"denied","value":"2"},{"topic":"ok","value":"3"}]}`)
	if ans.status != 403 {
		t.Fatalf("got %d %s, want 403", ans.status, ans.raw)
	}
	results := ans.body["results"].([]any)
	if len(results) != 3 {
		t.Fatalf("got %d results", len(results))
	}
	for i, want := range []bool{true, false, true} {
		res := results[i].(map[string]any)
		if ok := res["error"] == nil; ok != want {
			t.Errorf("result %d: %v, want success %v", i, res, want)
		}
	}
	failed := results[1].(map[string]any)["error"].(map[string]any)
	if failed["code"] != "forbidden" || !strings.Contains(failed["message"].(string), "denied") {
		t.Errorf("failed result: %v", failed)
	}
	if n := totalRecords(t, c, "ok"); n != 2 {
		t.Errorf("topic ok holds %d records, want 2", n)
	}
}

func TestUnknownTopicWhenClusterDoesNotCreate(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t)
	// A cluster without auto-creation.
	fake, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	cfg := c.Config()
	cfg.Brokers = fake.ListenAddrs()
	p, err := producer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	srv := httptest.NewServer(httpapi.New(p, httpapi.RequestTimeout(20*time.Second)))
	defer srv.Close()
	a := &api{url: srv.URL, client: srv.Client()}
	for _, body := range []string{`{"topic":"nope","value":"x"}`, `{"topic":"nope","value":"x","partition":0}`} {
		ans := a.post(t, "/kafka/send", body)
		if ans.status != 404 || ans.errorField("code") != "unknown_topic" || ans.errorField("field") != "topic" {
			t.Errorf("%s: got %d %s, want 404 unknown_topic", body, ans.status, ans.raw)
		}
	}
}

func TestAuthTokenAndAllowedTopics(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1), kafkatest.Topic("audit.login", 1), kafkatest.Topic("audit.", 1))
	a := newAPI(t, c, httpapi.AuthToken("s3cret"), httpapi.AllowedTopics("orders", "audit.*"))
	body := `{"topic":"orders","value":"x"}`
	for _, auth := range []string{"", "Bearer wrong", "s3cret", "Basic s3cret", "Bearer s3cret2"} {
		ans := a.do(t, http.MethodPost, "/kafka/send", "application/json", body, "Authorization", auth)
		if ans.status != 401 || ans.header.Get("WWW-Authenticate") == "" || ans.errorField("code") != "unauthorized" {
			t.Errorf("Authorization %q: got %d %s", auth, ans.status, ans.raw)
		}
	}
	ok := func(topic string) int {
		return a.do(t, http.MethodPost, "/kafka/send", "application/json", `{"topic":"`+topic+`","value":"x"}`, "Authorization", "Bearer s3cret").status
	}
	for topic, want := range map[string]int{"orders": 200, "audit.login": 200, "audit.": 200, "audit": 403, "ordersx": 403, "other": 403} {
		if got := ok(topic); got != want {
			t.Errorf("topic %q: got %d, want %d", topic, got, want)
		}
	}
	batch := `{"messages":[{"topic":"orders","value":"1"},{"topic":"secret","value":"2"}]}`
	ans := a.do(t, http.MethodPost, "/kafka/send-batch", "application/json", batch, "Authorization", "Bearer s3cret")
	if ans.status != 403 || ans.errorField("field") != "messages[1].topic" {
		t.Errorf("batch with a forbidden topic: got %d %s", ans.status, ans.raw)
	}
	if ans := a.do(t, http.MethodGet, "/healthz", "", ""); ans.status != 200 {
		t.Errorf("/healthz without token: got %d", ans.status)
	}
}

// TestIdempotencyTopicIsNeverSentTo: without an allowlist every topic
// may be sent to but kafkakit's own idempotency state, which a client
// could otherwise forge other callers' answers in.
func TestIdempotencyTopicIsNeverSentTo(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("anything", 1))
	a := newAPI(t, c)
	ans := a.do(t, http.MethodPost, "/kafka/send", "application/json", `{"topic":"`+idempotency.Topic+`","key":"k","value":"forged"}`)
	if ans.status != 403 || ans.errorField("field") != "topic" {
		t.Errorf("send to %s: got %d %s, want 403 on topic", idempotency.Topic, ans.status, ans.raw)
	}
	if ans := a.do(t, http.MethodPost, "/kafka/send", "application/json", `{"topic":"anything","value":"x"}`); ans.status != 200 {
		t.Errorf("send to another topic: got %d %s, want 200", ans.status, ans.raw)
	}
}

// TestBrokerDownAndBack: with the broker gone, sends fail within the
// request timeout and /readyz says 503; when it returns, both recover.
// It runs alone, before the parallel tests: the broker comes back on the
// port it freed, which a test running beside it could take meanwhile
// (then /readyz finds that test's broker, and the port is in use).
func TestBrokerDownAndBack(t *testing.T) {
	// The broker keeps its data on disk, so that it comes back as it was.
	dir := t.TempDir()
	fake, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	addr := fake.ListenAddrs()[0]
	_, port, _ := net.SplitHostPort(addr)
	c := kafkatest.NewCluster(t)
	cfg := c.Config()
	cfg.Brokers = []string{addr}
	cfg.RequestTimeout = time.Second
	p, err := producer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ready := func(ctx context.Context) error { return p.Client().Ping(ctx) }
	srv := httptest.NewServer(httpapi.New(p, httpapi.RequestTimeout(cfg.RequestTimeout), httpapi.Readiness(ready)))
	defer srv.Close()
	a := &api{url: srv.URL, client: srv.Client()}
	if ans := a.post(t, "/kafka/send", `{"topic":"t","value":"before"}`); ans.status != 200 {
		t.Fatalf("before: got %d %s", ans.status, ans.raw)
	}

	fake.Close()
	start := time.Now()
	ans := a.post(t, "/kafka/send", `{"topic":"t","value":"during"}`)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("answer took %v with a 1s request timeout", took)
	}
	if ans.status != 504 && ans.status != 502 {
		t.Errorf("broker down: got %d %s, want 502 or 504", ans.status, ans.raw)
	}
	if ans.errorField("message") == "" {
		t.Errorf("no message: %s", ans.raw)
	}
	if ans := a.do(t, http.MethodGet, "/readyz", "", ""); ans.status != 503 || ans.errorField("code") != "not_ready" {
		t.Errorf("/readyz with the broker down: got %d %s", ans.status, ans.raw)
	}

	var p2 int
	fmt.Sscan(port, &p2)
	back, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(p2), kfake.AllowAutoTopicCreation(), kfake.DataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if ans := a.do(t, http.MethodGet, "/readyz", "", ""); ans.status != 200 {
			return fmt.Errorf("/readyz: %d %s", ans.status, ans.raw)
		}
		return nil
	})
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if ans := a.post(t, "/kafka/send", `{"topic":"t","value":"after"}`); ans.status != 200 {
			return fmt.Errorf("send: %d %s", ans.status, ans.raw)
		}
		return nil
	})
}

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }

// TestOverloadAnswers503: a full producer buffer and too many requests in
// flight are each answered 503 with Retry-After at once, never queued.
func TestOverloadAnswers503(t *testing.T) {
	kafkatest.Parallel(t)
	for _, tt := range []struct {
		name        string
		maxBuffered int
		maxInFlight int
		wantMessage string
	}{
		{"producer buffer full", 3, 100, "waiting for the broker"},
		{"too many in flight", 1000, 3, "in flight"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := kafkatest.NewCluster(t, kafkatest.Topic("busy", 1))
			cfg := c.Config()
			cfg.MaxBufferedRecords = tt.maxBuffered
			p, err := producer.New(cfg, producer.NonBlocking())
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			srv := httptest.NewServer(httpapi.New(p, httpapi.MaxInFlight(tt.maxInFlight)))
			defer srv.Close()
			a := &api{url: srv.URL, client: srv.Client()}
			if ans := a.post(t, "/kafka/send", `{"topic":"busy","value":"warm"}`); ans.status != 200 {
				t.Fatalf("warm-up: %d %s", ans.status, ans.raw)
			}
			release := make(chan struct{})
			c.Fake().ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
				c.Fake().KeepControl()
				<-release
				return nil, nil, false
			})
			released := false
			defer func() {
				if !released {
					close(release)
				}
			}()
			// Three sends wait for the held broker.
			waiting := make(chan int, 3)
			for range 3 {
				go func() { waiting <- a.post(t, "/kafka/send", `{"topic":"busy","value":"v"}`).status }()
			}
			kafkatest.WaitFor(t, 10*time.Second, func() error {
				if n := p.Client().BufferedProduceRecords(); n < 3 {
					return fmt.Errorf("%d buffered", n)
				}
				return nil
			})
			start := time.Now()
			ans := a.post(t, "/kafka/send", `{"topic":"busy","value":"one too many"}`)
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("the refusal took %v", took)
			}
			if ans.status != 503 || ans.errorField("code") != "overloaded" || ans.header.Get("Retry-After") == "" ||
				!strings.Contains(ans.errorField("message"), tt.wantMessage) {
				t.Errorf("got %d %s (Retry-After %q), want 503 overloaded saying %q", ans.status, ans.raw, ans.header.Get("Retry-After"), tt.wantMessage)
			}
			close(release)
			released = true
			for range 3 {
				if status := <-waiting; status != 200 {
					t.Errorf("held request answered %d, want 200", status)
				}
			}
		})
	}
}

// Every request leaves one access log line with what it carried, and is
// reported to the observer by route.
func TestAccessLogAndObserver(t *testing.T) {
	kafkatest.Parallel(t)
	var logged strings.Builder
	var mu sync.Mutex
	var observed []string
	a := newAPI(t, kafkatest.NewCluster(t, kafkatest.Topic("logged", 1)),
		httpapi.Logger(slog.New(slog.NewJSONHandler(&lockedWriter{w: &logged, mu: &mu}, nil))),
		httpapi.Observe(func(route, method string, status int, _ time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			observed = append(observed, fmt.Sprintf("%s %s %d", method, route, status))
		}))
	a.post(t, "/kafka/send-batch", `{"messages":[{"topic":"logged","value":"a"},{"topic":"logged","value":"b"}]}`)
	a.do(t, http.MethodGet, "/nowhere", "", "")

	mu.Lock()
	defer mu.Unlock()
	var lines []map[string]any
	for line := range strings.Lines(logged.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "http request" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("%d access log lines, want 2:\n%s", len(lines), logged.String())
	}
	batch := lines[0]
	if batch["path"] != "/kafka/send-batch" || batch["status"] != 200.0 || batch["topic"] != "logged" || batch["messages"] != 2.0 {
		t.Errorf("send-batch access line = %v", batch)
	}
	if lines[1]["status"] != 404.0 || lines[1]["topic"] != nil {
		t.Errorf("404 access line = %v", lines[1])
	}
	if want := []string{"POST /kafka/send-batch 200", "GET  404"}; fmt.Sprint(observed) != fmt.Sprint(want) {
		t.Errorf("observed %q, want %q", observed, want)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// A batch may mix topics: each message lands in its own, and each answer
// names it, however the topics alternate.
func TestBatchMixesTopics(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("left", 1), kafkatest.Topic("right", 1))
	a := newAPI(t, c)
	topics := []string{"left", "left", "right", "left", "right", "right", "left"}
	var msgs []string
	for i, topic := range topics {
		msgs = append(msgs, fmt.Sprintf(`{"topic":%q,"value":"%d"}`, topic, i))
	}
	ans := a.post(t, "/kafka/send-batch", `{"messages":[`+strings.Join(msgs, ",")+`]}`)
	if ans.status != 200 {
		t.Fatalf("got %d %s", ans.status, ans.raw)
	}
	for i, r := range ans.body["results"].([]any) {
		if got := r.(map[string]any)["topic"]; got != topics[i] {
			t.Errorf("result %d names topic %v, want %s", i, got, topics[i])
		}
	}
	for topic, want := range map[string]string{"left": "0 1 3 6", "right": "2 4 5"} {
		var got []string
		for _, r := range c.ReadToEnd(t, topic) {
			got = append(got, string(r.Value))
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%s holds %v, want %s", topic, got, want)
		}
	}
	bad := a.post(t, "/kafka/send-batch", `{"messages":[{"topic":"left","value":"a"},{"topic":"no way","value":"b"}]}`)
	if bad.status != 400 || bad.errorField("field") != "messages[1].topic" {
		t.Errorf("a bad second topic: got %d %s", bad.status, bad.raw)
	}
}

// TestDeepNestingIsRefusedShortly: a body of unclosed brackets, which once
// kept a core busy for minutes and answered 920 KB, is a 400 that names
// the limit in a few bytes, and the server stays well.
func TestDeepNestingIsRefusedShortly(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("deep", 1))
	a := newAPI(t, c)
	for name, body := range map[string]string{
		"100 KB of [":          strings.Repeat("[", 100_000),
		"20,000 levels":        strings.Repeat("[", 20_000) + strings.Repeat("]", 20_000),
		"20,000 objects":       `{"topic":"deep","value":` + strings.Repeat(`{"a":`, 20_000),
		"one level over limit": `{"topic":"deep","value":` + strings.Repeat("[", httpapi.MaxDepth) + strings.Repeat("]", httpapi.MaxDepth) + `}`,
	} {
		for _, path := range []string{"/kafka/send", "/kafka/send-batch"} {
			ans := a.post(t, path, body)
			if ans.status != 400 || ans.errorField("code") != "invalid_request" || len(ans.raw) > 300 ||
				!strings.Contains(ans.errorField("message"), fmt.Sprintf("nest deeper than %d levels at byte", httpapi.MaxDepth)) {
				t.Errorf("%s to %s: got %d, %d bytes: %.300s", name, path, ans.status, len(ans.raw), ans.raw)
			}
		}
	}
	ok := `{"topic":"deep","value":` + strings.Repeat("[", httpapi.MaxDepth-1) + strings.Repeat("]", httpapi.MaxDepth-1) + `}`
	if ans := a.post(t, "/kafka/send", ok); ans.status != 200 {
		t.Errorf("nesting of %d levels: got %d %s", httpapi.MaxDepth, ans.status, ans.raw)
	}
	if n := totalRecords(t, c, "deep"); n != 1 {
		t.Errorf("topic deep holds %d records, want 1", n)
	}
}

// TestStringsMustBeText: every string of a request must be UTF-8 text: a
// lone surrogate escape or a byte that is not UTF-8 is a 400 naming the
// field, in a send and in a batch, and nothing is sent.
func TestStringsMustBeText(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("text", 1))
	a := newAPI(t, c)
	fields := []struct {
		field  string
		body   func(bad string) string // a send body with bad in the field
		prefix string                  // the field in a batch, before its name
	}{
		{"topic", func(bad string) string { return `{"topic":"` + bad + `"}` }, "messages[2]."},
		{"key", func(bad string) string { return `{"topic":"text","key":"k` + bad + `"}` }, "messages[2]."},
		{"value", func(bad string) string { return `{"topic":"text","value":"` + bad + `"}` }, "messages[2]."},
		{"value.user.names[1]", func(bad string) string {
			return `{"topic":"text","value":{"user":{"names":["ok","` + bad + `"]}}}`
		}, "messages[2]."},
		{"headers", func(bad string) string { return `{"topic":"text","headers":{"` + bad + `":"v"}}` }, "messages[2]."},
		{"headers.source", func(bad string) string { return `{"topic":"text","headers":{"a":"b","source":"` + bad + `"}}` }, "messages[2]."},
	}
	good := `{"topic":"text","value":"fine"}`
	for _, bad := range []string{`\ud800`, `\udfff`, `x\ud83dy`, "\xff", "\xed\xa0\x80", "\xc3"} {
		for _, f := range fields {
			send := f.body(bad)
			ans := a.post(t, "/kafka/send", send)
			if ans.status != 400 || ans.errorField("field") != f.field || !strings.Contains(ans.errorField("message"), "byte") {
				t.Errorf("send %q: got %d %s, want 400 naming %s", send, ans.status, ans.raw, f.field)
			}
			batch := `{"messages":[` + good + `,` + good + `,` + send + `]}`
			ans = a.post(t, "/kafka/send-batch", batch)
			if want := f.prefix + f.field; ans.status != 400 || ans.errorField("field") != want {
				t.Errorf("batch %q: got %d %s, want 400 naming %s", batch, ans.status, ans.raw, want)
			}
		}
	}
	if n := totalRecords(t, c, "text"); n != 0 {
		t.Errorf("topic text holds %d records after refusals, want 0", n)
	}
	// A surrogate pair is text, and stored as UTF-8.
	if ans := a.post(t, "/kafka/send", `{"topic":"text","key":"\ud83d\ude00","value":"\u00e9"}`); ans.status != 200 {
		t.Fatalf("surrogate pair: got %d %s", ans.status, ans.raw)
	}
	if r := c.ReadAll(t, "text", 1, 10*time.Second)[0]; string(r.Key) != "😀" || string(r.Value) != "é" {
		t.Errorf("stored key %q value %q, want 😀 and é", r.Key, r.Value)
	}
}

// TestRouterAnswersInJSON: ServeMux's own 404 and 405 (and its redirect of
// an unclean path) reach clients as JSON errors, with Allow on a 405, and
// are observed under no route, so that metrics stay bounded.
func TestRouterAnswersInJSON(t *testing.T) {
	kafkatest.Parallel(t)
	var mu sync.Mutex
	var routes []string
	a := newAPI(t, kafkatest.NewCluster(t), httpapi.Observe(func(route, _ string, _ int, _ time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		routes = append(routes, route)
	}))
	tests := []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{http.MethodGet, "/kafka/send", 405, "method_not_allowed", "POST"},
		{http.MethodDelete, "/kafka/send-batch", 405, "method_not_allowed", "POST"},
		{http.MethodPost, "/healthz", 405, "method_not_allowed", "GET, HEAD"},
		{http.MethodPut, "/openapi.json", 405, "method_not_allowed", "GET, HEAD"},
		{http.MethodGet, "/nowhere", 404, "not_found", ""},
		{http.MethodPost, "/kafka//send", 404, "not_found", ""},
		{http.MethodGet, "/kafka/../healthz", 404, "not_found", ""},
		{http.MethodPost, "/kafka/send/", 404, "not_found", ""},
	}
	for _, tt := range tests {
		ans := a.do(t, tt.method, tt.path, "application/json", "{}")
		if ans.status != tt.status || ans.errorField("code") != tt.code || ans.header.Get("Allow") != tt.allow ||
			!strings.HasPrefix(ans.header.Get("Content-Type"), "application/json") || ans.errorField("message") == "" {
			t.Errorf("%s %s: got %d Allow=%q %s, want %d %s Allow=%q", tt.method, tt.path, ans.status, ans.header.Get("Allow"), ans.raw, tt.status, tt.code, tt.allow)
		}
	}
	if resp, err := a.client.Head(a.url + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("HEAD /healthz: got %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	want := append(make([]string, len(tests)), "/healthz")
	if fmt.Sprint(routes) != fmt.Sprint(want) {
		t.Errorf("observed routes %q, want %q", routes, want)
	}
}
