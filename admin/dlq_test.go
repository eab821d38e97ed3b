package admin_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
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
		{"/kafka/dlq/missing/replay", "application/json", `{}`, 403, "topic"},
		// The letter came from a topic not allowed here: not sent.
		{"/kafka/dlq/orders.dlt/replay", "application/json", `{}`, 403, "to"},
	} {
		var e struct {
			Error struct{ Code, Message, Field string }
		}
		code := post(t, srv, tc.path, tc.contentType, tc.body, &e)
		if code != tc.status || e.Error.Field != tc.field || e.Error.Message == "" {
			t.Errorf("POST %s %s: got %d %+v, want %d field %q", tc.path, tc.body, code, e.Error, tc.status, tc.field)
		}
	}
	if got := c.ReadToEnd(t, "secret"); len(got) != 0 {
		t.Errorf("%d records reached a topic not allowed", len(got))
	}
	var e struct{ Error struct{ Code string } }
	srvAll := serve(t, c)
	if code := get(t, srvAll, "/kafka/dlq/missing", "", &e); code != 404 || e.Error.Code != "unknown_topic" {
		t.Errorf("GET unknown dead-letter topic: got %d %s", code, e.Error.Code)
	}
}
