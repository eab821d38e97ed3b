package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/idempotency"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/metrics"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// deadLetter writes n dead letters of topic to dlt, as a failing handler
// would.
func deadLetter(t *testing.T, c *kafkatest.Cluster, topic, dlt string, n int, cause error) {
	t.Helper()
	p, err := producer.New(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := range n {
		msg := &consumer.Message{Topic: topic, Partition: 0, Offset: int64(i), Key: fmt.Appendf(nil, "k%d", i),
			Value: fmt.Appendf(nil, `{"n":%d}`, i), Timestamp: time.Now()}
		if _, err := p.Send(t.Context(), consumer.DeadLetter(msg, cause, 3, "billing", dlt, time.Now())); err != nil {
			t.Fatal(err)
		}
	}
}

func post(t *testing.T, srv *httptest.Server, path, contentType, body string, v any) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("POST %s: %v in %s", path, err, b)
	}
	return resp.StatusCode
}

func TestDeadLettersSummarizedAndReplayed(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 2), kafkatest.Topic("orders.dlt", 2))
	deadLetter(t, c, "orders", "orders.dlt", 3, errors.New("receiver answered 500"))
	srv := serve(t, c)

	var sum struct {
		Scanned  int
		Failures []admin.Failure
		Messages []message
	}
	if code := get(t, srv, "/kafka/dlq/orders.dlt?limit=2", "", &sum); code != 200 {
		t.Fatalf("status %d", code)
	}
	if sum.Scanned != 3 || len(sum.Failures) != 1 || len(sum.Messages) != 2 {
		t.Fatalf("got %+v, want 3 scanned in one failure, a page of 2", sum)
	}
	f := sum.Failures[0]
	if f.OriginalTopic != "orders" || f.Count != 3 || f.Exception == "" || f.Example != "receiver answered 500" || f.FirstFailure > f.LastFailure {
		t.Errorf("failure %+v", f)
	}

	var dry admin.ReplayAnswer
	if code := post(t, srv, "/kafka/dlq/orders.dlt/replay", "application/json", `{"dry_run":true}`, &dry); code != 200 {
		t.Fatalf("dry run: status %d", code)
	}
	if dry.Total != 3 || dry.Replayed["orders"] != 3 || len(dry.Records) != 3 || dry.Records[0].To != "orders" || dry.Records[0].ToPartition != 0 {
		t.Fatalf("dry run: got %+v", dry)
	}
	if got := c.ReadToEnd(t, "orders"); len(got) != 0 {
		t.Fatalf("a dry run sent %d records", len(got))
	}

	var real admin.ReplayAnswer
	if code := post(t, srv, "/kafka/dlq/orders.dlt/replay", "application/json", `{}`, &real); code != 200 || real.Total != 3 {
		t.Fatalf("replay: status %d, %+v", code, real)
	}
	got := c.ReadAll(t, "orders", 3, 10*time.Second)
	for _, r := range got {
		if r.Partition != 0 || !strings.HasPrefix(string(r.Value), `{"n":`) {
			t.Errorf("replayed %s to partition %d, want the original value in partition 0", r.Value, r.Partition)
		}
	}
	var again admin.ReplayAnswer
	post(t, srv, "/kafka/dlq/orders.dlt/replay", "application/json", `{}`, &again)
	if again.Total != 0 {
		t.Errorf("a second replay sent %d again", again.Total)
	}
}

func TestReplayBadInput(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1), kafkatest.Topic("orders.dlt", 1), kafkatest.Topic("secret", 1))
	deadLetter(t, c, "secret", "orders.dlt", 1, errors.New("no"))
	srv := serve(t, c, admin.AllowedTopics("orders", "orders.dlt"))
	for _, tc := range []struct {
		path, contentType, body string
		status                  int
		field                   string
	}{
		{"/kafka/dlq/orders.dlt/replay", "text/plain", `{}`, 415, ""},
		{"/kafka/dlq/orders.dlt/replay", "application/json", `{"dry_run":`, 400, ""},
		{"/kafka/dlq/orders.dlt/replay", "application/json", `{"dryrun":true}`, 400, ""},
		{"/kafka/dlq/orders.dlt/replay", "application/json", `{"limit":-1}`, 400, "limit"},
		{"/kafka/dlq/orders.dlt/replay", "application/json", `{"to":"secret"}`, 403, "to"},
		{"/kafka/dlq/orders.dlt/replay", "application/json", `{"to":"bad topic"}`, 400, "to"},
		{"/kafka/dlq/orders.dlt/replay", "application/json", `{"to":".."}`, 400, "to"},
		{"/kafka/dlq/orders.dlt/replay", "application/json", `{"to":"` + strings.Repeat("o", 300) + `"}`, 400, "to"},
		{"/kafka/dlq/orders.dlt/replay", "application/json", `{"to":"a/b"}`, 400, "to"},
		{"/kafka/dlq/orders.dlt/replay", "application/json", `{"to":"__kafkakit_idempotency"}`, 403, "to"},
		{"/kafka/dlq/orders.dlt/replay", "application/json", `{"to":"__consumer_offsets"}`, 403, "to"},
		{"/kafka/dlq/missing/replay", "application/json", `{}`, 403, "topic"},
	} {
		var e struct {
			Error struct{ Code, Message, Field string }
		}
		code := post(t, srv, tc.path, tc.contentType, tc.body, &e)
		if code != tc.status || e.Error.Field != tc.field || e.Error.Message == "" {
			t.Errorf("POST %s %s: got %d %+v, want %d field %q", tc.path, tc.body, code, e.Error, tc.status, tc.field)
		}
	}
	// The letter came from a topic not allowed here: not sent, and
	// reported with why.
	var a admin.ReplayAnswer
	if code := post(t, srv, "/kafka/dlq/orders.dlt/replay", "application/json", `{}`, &a); code != 200 || a.Total != 0 || a.Refused != 1 ||
		len(a.RefusedRecords) != 1 || a.RefusedRecords[0].Refused == nil || a.RefusedRecords[0].Refused.Reason != "not_allowed" ||
		a.RefusedRecords[0].To != "secret" || a.Remaining != 1 {
		t.Errorf("replay of a letter to a topic not allowed: %d %+v", code, a)
	}
	if got := c.ReadToEnd(t, "secret"); len(got) != 0 {
		t.Errorf("%d records reached a topic not allowed", len(got))
	}
	// Kafka refuses to list offsets of a name it cannot hold and, unlike
	// kfake, writes group commits to __consumer_offsets: a topic that
	// does not exist holds nothing, and one that does holds no letter.
	for _, topic := range []string{"bad topic", "..", "a/b", "__consumer_offsets", "__kafkakit_idempotency"} {
		for _, r := range written(t, c, topic) {
			if string(r.Key) == "k0" {
				t.Errorf("the dead letter reached %q", topic)
			}
		}
	}
	var e struct{ Error struct{ Code string } }
	srvAll := serve(t, c)
	if code := get(t, srvAll, "/kafka/dlq/missing", "", &e); code != 404 || e.Error.Code != "unknown_topic" {
		t.Errorf("GET unknown dead-letter topic: got %d %s", code, e.Error.Code)
	}
}

// written is what topic holds, nothing when the cluster has no such
// topic or refuses its name.
func written(t *testing.T, c *kafkatest.Cluster, topic string) []*kgo.Record {
	t.Helper()
	details, err := kadm.NewClient(c.Client(t)).ListTopics(t.Context(), topic)
	if err != nil {
		t.Fatalf("list %q: %v", topic, err)
	}
	d, ok := details[topic]
	switch {
	case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) || errors.Is(d.Err, kerr.InvalidTopicException):
		return nil
	case d.Err != nil:
		t.Fatalf("list %q: %v", topic, d.Err)
	}
	return c.ReadToEnd(t, topic)
}

// typedError is a failure of a type of its own, for selecting by type.
type typedError struct{}

func (typedError) Error() string { return "payment gateway timed out" }

func TestReplaySelector(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1), kafkatest.Topic("payments", 1), kafkatest.Topic("mixed.dlt", 1))
	deadLetter(t, c, "orders", "mixed.dlt", 3, errors.New("receiver answered 500")) // offsets 0-2, keys k0-k2
	mid := time.Now().Truncate(time.Millisecond).Add(time.Millisecond)
	for time.Now().Before(mid) { // failed-at has milliseconds: let the next one start
		runtime.Gosched()
	}
	deadLetter(t, c, "payments", "mixed.dlt", 2, typedError{}) // offsets 3-4, keys k0-k1
	srv := serve(t, c)

	offsets := func(body string) []int64 {
		t.Helper()
		var a admin.ReplayAnswer
		if code := post(t, srv, "/kafka/dlq/mixed.dlt/replay", "application/json", body, &a); code != 200 {
			t.Fatalf("%s: status %d", body, code)
		}
		var got []int64
		for _, r := range a.Records {
			got = append(got, r.Offset)
		}
		return got
	}
	for _, tc := range []struct {
		sel  string
		want []int64
	}{
		{`{}`, []int64{0, 1, 2, 3, 4}},
		{`{"original_topic":"payments"}`, []int64{3, 4}},
		{`{"exception":"admin_test.typedError"}`, []int64{3, 4}},
		{`{"message":"answered 500"}`, []int64{0, 1, 2}},
		{`{"key":"k1"}`, []int64{1, 4}},
		{`{"partition":0,"from_offset":1,"to_offset":3}`, []int64{1, 2, 3}},
		{`{"from_offset":4}`, []int64{4}},
		{`{"until":"` + mid.Format(time.RFC3339Nano) + `"}`, []int64{0, 1, 2}},
		{`{"from":"` + mid.Format(time.RFC3339Nano) + `"}`, []int64{3, 4}},
		{`{"original_topic":"orders","key":"k2"}`, []int64{2}},
		{`{"original_topic":"nowhere"}`, nil},
	} {
		if got := offsets(`{"dry_run":true,"select":` + tc.sel + `}`); !slices.Equal(got, tc.want) {
			t.Errorf("select %s: got offsets %v, want %v", tc.sel, got, tc.want)
		}
	}

	// A real replay of a selection sends only it; the rest stays.
	if got := offsets(`{"select":{"original_topic":"payments"}}`); !slices.Equal(got, []int64{3, 4}) {
		t.Fatalf("replay of payments: offsets %v", got)
	}
	if got := c.ReadAll(t, "payments", 2, 10*time.Second); len(got) != 2 {
		t.Fatalf("%d records back in payments, want 2", len(got))
	}
	if got := c.ReadToEnd(t, "orders"); len(got) != 0 {
		t.Fatalf("%d records sent to orders, which was not selected", len(got))
	}
	if got := offsets(`{"dry_run":true,"select":{"original_topic":"orders"}}`); !slices.Equal(got, []int64{0, 1, 2}) {
		t.Errorf("after replaying payments the orders letters are %v, want 0-2 still there", got)
	}
	// Progress stops at the first letter left (offset 0), so a replay of
	// everything would send the payments letters again: at least once.
	if got := offsets(`{"dry_run":true}`); !slices.Equal(got, []int64{0, 1, 2, 3, 4}) {
		t.Errorf("after a selective replay a dry run of all finds %v, want 0-4", got)
	}
}

func TestReplaySelectorBadInput(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1), kafkatest.Topic("orders.dlt", 1))
	deadLetter(t, c, "orders", "orders.dlt", 1, errors.New("no"))
	srv := serve(t, c)
	for _, tc := range []struct{ sel, field string }{
		{`{"from":"yesterday"}`, "select.from"},
		{`{"until":"2026-13-01T00:00:00Z"}`, "select.until"},
		{`{"from":"2026-01-02T00:00:00Z","until":"2026-01-01T00:00:00Z"}`, "select.until"},
		{`{"partition":-1}`, "select.partition"},
		{`{"from_offset":-3}`, "select.from_offset"},
		{`{"to_offset":-1}`, "select.to_offset"},
		{`{"from_offset":5,"to_offset":2}`, "select.to_offset"},
		{`{"from_offset":"five"}`, "select.from_offset"},
		{`{"key":7}`, "select.key"},
		{`"payments"`, "select"},
	} {
		var e struct {
			Error struct{ Code, Message, Field string }
		}
		code := post(t, srv, "/kafka/dlq/orders.dlt/replay", "application/json", `{"select":`+tc.sel+`}`, &e)
		if code != 400 || e.Error.Field != tc.field || e.Error.Message == "" {
			t.Errorf("select %s: got %d %+v, want 400 naming %s", tc.sel, code, e.Error, tc.field)
		}
	}
	var e struct{ Error struct{ Message string } }
	if code := post(t, srv, "/kafka/dlq/orders.dlt/replay", "application/json", `{"select":{"topic":"orders"}}`, &e); code != 400 || !strings.Contains(e.Error.Message, "topic") {
		t.Errorf("unknown selector field: got %d %+v, want 400 naming it", code, e.Error)
	}
	if got := c.ReadToEnd(t, "orders"); len(got) != 0 {
		t.Errorf("bad selectors sent %d records", len(got))
	}
}

// TestReplayNeverWritesInternalTopics: with no allowlist at all, a
// letter naming kafkakit's own idempotency topic or one of Kafka's is not
// sent, not marked replayed, reported with why and counted.
func TestReplayNeverWritesInternalTopics(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("x", 1), kafkatest.Topic("x.dlq", 1), kafkatest.Topic(idempotency.Topic, 1))
	forged := func(to string) *kgo.Record {
		return &kgo.Record{Topic: "x.dlq", Key: []byte("short"), Value: []byte("v"),
			Headers: []kgo.RecordHeader{{Key: consumer.HeaderOriginalTopic, Value: []byte(to)}}}
	}
	c.Produce(t, forged(idempotency.Topic), forged("__consumer_offsets"), forged("x"))
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, c, admin.Observe(m))
	for range 2 { // the letters refused stay: a second replay refuses them again
		var a admin.ReplayAnswer
		if code := post(t, srv, "/kafka/dlq/x.dlq/replay", "application/json", `{}`, &a); code != 200 || a.Refused != 2 || len(a.RefusedRecords) != 2 {
			t.Fatalf("replay: %d %+v", code, a)
		}
		for _, r := range a.RefusedRecords {
			if r.Refused.Reason != "internal_topic" || !strings.Contains(r.Refused.Message, "internal topic") {
				t.Errorf("refused %+v", r.Refused)
			}
		}
	}
	if got := c.ReadToEnd(t, idempotency.Topic); len(got) != 0 {
		t.Errorf("a replay wrote %d records to %s", len(got), idempotency.Topic)
	}
	if n := counter(t, reg, "kafkakit_dead_letters_not_replayed_total", "reason", "internal_topic"); n != 4 {
		t.Errorf("kafkakit_dead_letters_not_replayed_total{reason=internal_topic} = %v, want 4", n)
	}
	// The letter to x after them was sent by each replay: progress stops
	// before the first letter left, at least once.
	if got := c.ReadToEnd(t, "x"); len(got) != 2 {
		t.Errorf("x holds %d, want the letter twice", len(got))
	}
}

// TestReplayChecksLettersArrivingDuringIt: a letter naming a topic the
// allowlist refuses, written while a replay runs, is never sent: not by
// that replay, nor by a later one, which reports it refused.
func TestReplayChecksLettersArrivingDuringIt(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("h2ok.orders", 1), kafkatest.Topic("h2ok.dlq", 1), kafkatest.Topic("h2secret-toctou", 1))
	deadLetter(t, c, "h2ok.orders", "h2ok.dlq", 1, errors.New("no"))
	writer := c.Client(t)
	// The replay's first fetch waits until a letter for the secret topic
	// is in the dead-letter topic: it arrives while the replay runs.
	var once sync.Once
	c.Fake().ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		once.Do(func() {
			c.Fake().SleepControl(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				msg := &consumer.Message{Topic: "h2secret-toctou", Key: []byte("late"), Value: []byte("secret"), Timestamp: time.Now()}
				dl := consumer.DeadLetter(msg, errors.New("no"), 1, "g", "h2ok.dlq", time.Now())
				rec := &kgo.Record{Topic: dl.Topic, Key: dl.Key, Value: dl.Value, Headers: dl.Headers}
				if err := writer.ProduceSync(ctx, rec).FirstErr(); err != nil {
					t.Errorf("writing the late letter: %v", err)
				}
			})
		})
		return nil, nil, false
	})
	srv := serve(t, c, admin.AllowedTopics("h2ok.*"))
	var a admin.ReplayAnswer
	if code := post(t, srv, "/kafka/dlq/h2ok.dlq/replay", "application/json", `{}`, &a); code != 200 || a.Replayed["h2ok.orders"] != 1 {
		t.Fatalf("replay: %d %+v", code, a)
	}
	if got := c.ReadToEnd(t, "h2ok.dlq"); len(got) != 2 {
		t.Fatalf("the late letter did not arrive: h2ok.dlq holds %d", len(got))
	}
	var again admin.ReplayAnswer
	if code := post(t, srv, "/kafka/dlq/h2ok.dlq/replay", "application/json", `{}`, &again); code != 200 || again.Total != 0 || again.Refused != 1 ||
		again.RefusedRecords[0].To != "h2secret-toctou" || again.RefusedRecords[0].Refused.Reason != "not_allowed" {
		t.Fatalf("second replay: %d %+v", code, again)
	}
	if got := c.ReadToEnd(t, "h2secret-toctou"); len(got) != 0 {
		t.Errorf("%d letters reached h2secret-toctou, which the allowlist refuses", len(got))
	}
	var dry admin.ReplayAnswer
	if post(t, srv, "/kafka/dlq/h2ok.dlq/replay", "application/json", `{"dry_run":true}`, &dry); dry.Refused != 1 {
		t.Errorf("the refused letter was marked replayed: a dry run finds %+v", dry)
	}
}

// counter is the value of the counter name whose label is value, 0 when
// there is none.
func counter(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestForgedDeadLettersAreRead: dead letters whose headers are garbage in
// either dialect (wrong lengths, bad encodings, huge values, thousands of
// headers) are summarized, listed and replayed, or refused with why,
// without a panic; what is listed is cut to its share.
func TestForgedDeadLettersAreRead(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("t", 2), kafkatest.Topic("f.dlq", 1))
	many := make([]kgo.RecordHeader, 5000)
	for i := range many {
		many[i] = kgo.RecordHeader{Key: "h"}
	}
	forged := [][]kgo.RecordHeader{
		{{Key: "kafkakit-replay-count", Value: []byte("99999999999999999999999")}, {Key: consumer.HeaderOriginalTopic, Value: []byte("t")},
			{Key: consumer.HeaderOriginalPartition, Value: []byte{1, 2}}, {Key: consumer.HeaderFailedAt, Value: []byte("yesterday")}},
		{{Key: "__connect.errors.topic", Value: []byte("t")}, {Key: "__connect.errors.partition", Value: []byte("abc")},
			{Key: "__connect.errors.exception.message", Value: []byte{0xff, 0xfe, 0x00}}},
		{{Key: string([]byte{0xff, 0x00}), Value: []byte{0xc3}}, {Key: consumer.HeaderOriginalTopic, Value: []byte{0xff, 0xfe}}},
		{{Key: consumer.HeaderOriginalTopic, Value: bytes.Repeat([]byte("t"), 400<<10)},
			{Key: consumer.HeaderExceptionMessage, Value: bytes.Repeat([]byte("e"), 400<<10)}},
		append(many, kgo.RecordHeader{Key: consumer.HeaderOriginalTopic, Value: []byte("t")}),
		{{Key: "kafkakit-replay-count", Value: []byte("3")}, {Key: consumer.HeaderOriginalTopic, Value: []byte("t")},
			{Key: consumer.HeaderOriginalPartition, Value: []byte{0xff, 0xff, 0xff, 0xfe}}},
	}
	for i, hs := range forged {
		c.Produce(t, &kgo.Record{Topic: "f.dlq", Key: []byte{byte(i), 0xff}, Value: []byte{0xff, byte(i)}, Headers: hs})
	}
	srv := serve(t, c)
	var sum struct {
		Scanned  int
		Failures []admin.Failure
		Messages []admin.Listed
	}
	if code := get(t, srv, "/kafka/dlq/f.dlq?limit=100", "", &sum); code != 200 || sum.Scanned != len(forged) || len(sum.Messages) != len(forged) {
		t.Fatalf("summary: %d, %d scanned, %d listed", code, sum.Scanned, len(sum.Messages))
	}
	for _, f := range sum.Failures {
		if len(f.OriginalTopic) > 256 || len(f.Example) > 1<<10 {
			t.Errorf("a failure's texts are not cut: %d and %d bytes", len(f.OriginalTopic), len(f.Example))
		}
	}
	for _, m := range sum.Messages {
		if b, _ := json.Marshal(m); len(b) > 8*admin.PageBytes/100+2048 {
			t.Errorf("offset %d is listed in %d bytes, over its share", m.Offset, len(b))
		}
	}
	var a admin.ReplayAnswer
	if code := post(t, srv, "/kafka/dlq/f.dlq/replay", "application/json", `{}`, &a); code != 200 {
		t.Fatalf("replay: %d %+v", code, a)
	}
	// The huge and the undecodable original topics are refused; the
	// others go back to t, on the partitioner's choice where the
	// partition header is garbage; the last has been replayed too often.
	if a.Replayed["t"] != 3 || a.Replayed["f.dlq.parked"] != 1 || a.Refused != 2 || len(a.RefusedRecords) != 2 {
		t.Errorf("replay: %+v", a)
	}
	for _, r := range append(a.Records, a.RefusedRecords...) {
		if len(r.To) > 1<<10 || len(r.Error) > 1<<10 {
			t.Errorf("offset %d: texts not cut (%d, %d bytes)", r.Offset, len(r.To), len(r.Error))
		}
	}
}
