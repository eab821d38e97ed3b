package httpapi_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/metrics"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/kafkakit/kafkakit/queue"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestOpenAPIMatchesRoutes checks that the document describes exactly the
// routes serve answers: the send routes', the admin API's and the queue
// routes.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	kafkatest.Parallel(t)
	documented, err := httpapi.DocumentedPaths()
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	served := append(httpapi.RoutePatterns(httpapi.New(nil)), admin.New(config.Kafka{}, nil).Routes()...)
	served = append(served, queue.Routes()...)
	for _, pattern := range served {
		if !slices.Contains(documented, pattern) {
			t.Errorf("route %s is not in openapi.json", pattern)
		}
	}
	for _, op := range documented {
		if !slices.Contains(served, op) {
			t.Errorf("openapi.json describes %s, which is not served", op)
		}
	}
}

// adminRequest is a request to the admin API and the route of the
// document it takes.
type adminRequest struct {
	route, method, path, contentType, body string
	header                                 map[string]string
}

// TestOpenAPIDescribesAdminAnswers asks a kfake-backed admin API for each
// kind of answer each route gives and checks the document lists the status
// and the body has what its schema requires.
func TestOpenAPIDescribesAdminAnswers(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("docs", 2), kafkatest.Topic("docs.dlt", 2), kafkatest.Topic("secret", 1))
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	prod, err := producer.New(c.Config(), producer.Observe(m))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	fillDocsTopics(t, c, prod)
	joinGroup(t, c, "docs-readers", "docs")
	srv := httptest.NewServer(admin.New(c.Config(), c.Client(t), admin.AuthToken("tok"), admin.AllowedTopics("docs", "docs.*"), admin.Metrics(reg),
		admin.Consumers(func() []consumer.Status {
			return []consumer.Status{{Group: "g", Ready: true, Subscriptions: []consumer.SubscriptionStatus{
				{Topic: "docs", Partitions: []consumer.PartitionStatus{{Partition: 0, Committed: 5, HighWatermark: 9, Lag: 4}}}}}}
		})))
	defer srv.Close()
	bare := httptest.NewServer(admin.New(c.Config(), c.Client(t)))
	defer bare.Close()

	const topic, msgs, group, dlq, replay, live = "/kafka/topics/{topic}", "/kafka/topics/{topic}/messages", "/kafka/groups/{group}",
		"/kafka/dlq/{topic}", "/kafka/dlq/{topic}/replay", "/kafka/live"
	const reset = "/kafka/groups/{group}/reset"
	json := "application/json"
	reqs := []adminRequest{
		{route: "/kafka/topics", method: "GET", path: "/kafka/topics"},
		{route: "/kafka/topics", method: "GET", path: "/kafka/topics", header: map[string]string{"Authorization": "Bearer wrong"}},
		{route: "/kafka/topics", method: "POST", path: "/kafka/topics"},
		{route: topic, method: "GET", path: "/kafka/topics/docs"},
		{route: topic, method: "GET", path: "/kafka/topics/secret"},
		{route: topic, method: "GET", path: "/kafka/topics/docs.none"},
		{route: topic, method: "DELETE", path: "/kafka/topics/docs"},
		{route: msgs, method: "GET", path: "/kafka/topics/docs/messages"},
		{route: msgs, method: "GET", path: "/kafka/topics/docs/messages?partition=0&offset=0&limit=5"},
		{route: msgs, method: "GET", path: "/kafka/topics/docs/messages?key=k1"},
		{route: msgs, method: "GET", path: "/kafka/topics/docs/messages?from=0"},
		{route: msgs, method: "GET", path: "/kafka/topics/docs/messages?from=yesterday"},
		{route: msgs, method: "GET", path: "/kafka/topics/docs/messages?limit=0"},
		{route: msgs, method: "GET", path: "/kafka/topics/docs/messages?offset=3"},
		{route: msgs, method: "GET", path: "/kafka/topics/docs/messages?partition=9"},
		{route: msgs, method: "GET", path: "/kafka/topics/secret/messages"},
		{route: msgs, method: "GET", path: "/kafka/topics/docs.none/messages"},
		{route: "/kafka/groups", method: "GET", path: "/kafka/groups"},
		{route: group, method: "GET", path: "/kafka/groups/docs-readers"},
		{route: group, method: "GET", path: "/kafka/groups/nobody"},
		{route: "/kafka/share-groups", method: "GET", path: "/kafka/share-groups"},
		{route: "/kafka/share-groups/{group}", method: "GET", path: "/kafka/share-groups/nobody"},
		{route: dlq, method: "GET", path: "/kafka/dlq/docs.dlt"},
		{route: dlq, method: "GET", path: "/kafka/dlq/docs.dlt?limit=x"},
		{route: dlq, method: "GET", path: "/kafka/dlq/secret"},
		{route: dlq, method: "GET", path: "/kafka/dlq/docs.none"},
		{route: replay, method: "POST", path: "/kafka/dlq/docs.dlt/replay", contentType: json, body: `{"dry_run":true}`},
		{route: replay, method: "POST", path: "/kafka/dlq/docs.dlt/replay", contentType: json, body: `{"dry_run":true,"select":{"original_topic":"docs","key":"dead-1","from_offset":0}}`},
		{route: replay, method: "POST", path: "/kafka/dlq/docs.dlt/replay", contentType: json, body: `{"select":{"key":"dead-0"}}`},
		{route: replay, method: "POST", path: "/kafka/dlq/docs.dlt/replay", contentType: "text/plain", body: `{}`},
		{route: replay, method: "POST", path: "/kafka/dlq/docs.dlt/replay", contentType: json, body: `{"dry_run":true,"bogus":1}`},
		{route: replay, method: "POST", path: "/kafka/dlq/docs.dlt/replay", contentType: json, body: `{"select":{"from":"yesterday"}}`},
		{route: replay, method: "POST", path: "/kafka/dlq/docs.dlt/replay", contentType: json, body: `{"to":"secret"}`},
		{route: replay, method: "POST", path: "/kafka/dlq/docs.dlt/replay", contentType: json, body: `{"to":"bad topic"}`},
		{route: replay, method: "POST", path: "/kafka/dlq/docs.dlt/replay", contentType: json, body: `{"to":"__consumer_offsets"}`},
		{route: replay, method: "POST", path: "/kafka/dlq/docs.dlt/replay", contentType: json, body: `{"dry_run":true,"to":"docs.again"}`},
		{route: replay, method: "POST", path: "/kafka/dlq/secret/replay", contentType: json, body: `{}`},
		{route: replay, method: "POST", path: "/kafka/dlq/docs.none/replay", contentType: json, body: `{}`},
		{route: replay, method: "GET", path: "/kafka/dlq/docs.dlt/replay"},
		{route: "/kafka/topics", method: "POST", path: "/kafka/topics?dry_run=true", contentType: json, body: `{"name":"docs.made","partitions":2}`},
		{route: "/kafka/topics", method: "POST", path: "/kafka/topics", contentType: json, body: `{"name":"docs.made","partitions":2,"configs":{"retention.ms":60000}}`},
		{route: "/kafka/topics", method: "POST", path: "/kafka/topics", contentType: json, body: `{"name":"docs.made","partitions":2}`},
		{route: "/kafka/topics", method: "POST", path: "/kafka/topics", contentType: json, body: `{"name":"docs.x","configs":{"retention.hours":1}}`},
		{route: "/kafka/topics", method: "POST", path: "/kafka/topics", contentType: json, body: `{"name":"secret.x"}`},
		{route: topic, method: "PATCH", path: "/kafka/topics/docs.made?dry_run=true", contentType: json, body: `{"partitions":3,"configs":{"retention.ms":null}}`},
		{route: topic, method: "PATCH", path: "/kafka/topics/docs.made", contentType: json, body: `{"partitions":3}`},
		{route: topic, method: "PATCH", path: "/kafka/topics/docs.made", contentType: json, body: `{"partitions":1}`},
		{route: topic, method: "PATCH", path: "/kafka/topics/secret", contentType: json, body: `{"partitions":3}`},
		{route: topic, method: "PATCH", path: "/kafka/topics/docs.none", contentType: json, body: `{"partitions":3}`},
		{route: topic, method: "DELETE", path: "/kafka/topics/docs.made", contentType: json, body: `{"confirm":"docs"}`},
		{route: topic, method: "DELETE", path: "/kafka/topics/docs.made", contentType: json, body: `{"confirm":"docs.made"}`},
		{route: reset, method: "POST", path: "/kafka/groups/docs-idle/reset", contentType: json, body: `{"topics":["docs"],"to":"earliest","dry_run":true}`},
		{route: reset, method: "POST", path: "/kafka/groups/docs-readers/reset", contentType: json, body: `{"topics":["docs"],"to":{"shift":-1}}`},
		{route: reset, method: "POST", path: "/kafka/groups/docs-idle/reset", contentType: json, body: `{"topics":["docs"],"to":"soon"}`},
		{route: reset, method: "POST", path: "/kafka/groups/docs-idle/reset", contentType: json, body: `{"topics":["secret"],"to":"earliest"}`},
		{route: reset, method: "POST", path: "/kafka/groups/docs-idle/reset", contentType: json, body: `{"topics":["docs.none"],"to":"earliest"}`},
		{route: group, method: "DELETE", path: "/kafka/groups/docs-readers"},
		{route: group, method: "DELETE", path: "/kafka/groups/docs-idle"},
		{route: "/kafka/consumers", method: "GET", path: "/kafka/consumers"},
		{route: "/kafka/consumers", method: "POST", path: "/kafka/consumers", contentType: json, body: "{}"},
		{route: live, method: "GET", path: "/kafka/live", header: map[string]string{"Last-Event-ID": "soon"}},
		{route: live, method: "POST", path: "/kafka/live"},
	}
	seen := map[string]bool{}
	for _, r := range reqs {
		resp, body := doAdmin(t, srv, r)
		seen[r.route+" "+resp.Status] = true
		if err := httpapi.CheckAnswer(r.route, r.method, resp, body); err != nil {
			t.Errorf("%s %s: %v", r.method, r.path, err)
		}
	}
	// Without a metrics registry, /kafka/live is 404.
	resp, body := doAdmin(t, bare, adminRequest{route: live, method: "GET", path: live})
	if err := httpapi.CheckAnswer(live, "GET", resp, body); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /kafka/live without metrics: %d, %v", resp.StatusCode, err)
	}
	checkLiveEvent(t, srv, prod)
	for _, want := range []string{"/kafka/topics 200 OK", msgs + " 200 OK", msgs + " 400 Bad Request", group + " 200 OK",
		dlq + " 200 OK", "/kafka/consumers 200 OK", "/kafka/consumers 405 Method Not Allowed", replay + " 200 OK", replay + " 403 Forbidden", replay + " 404 Not Found", replay + " 405 Method Not Allowed",
		"/kafka/topics 201 Created", "/kafka/topics 409 Conflict", topic + " 200 OK", topic + " 400 Bad Request", reset + " 200 OK", reset + " 409 Conflict",
		reset + " 400 Bad Request", reset + " 403 Forbidden", reset + " 404 Not Found", group + " 409 Conflict", group + " 404 Not Found"} {
		if !seen[want] {
			t.Errorf("no request was answered %s", want)
		}
	}
}

// doAdmin sends r with the token unless r sets Authorization.
func doAdmin(t *testing.T, srv *httptest.Server, r adminRequest) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), r.method, srv.URL+r.path, strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer tok")
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// fillDocsTopics writes messages of each encoding to docs and two dead
// letters of it to docs.dlt.
func fillDocsTopics(t *testing.T, c *kafkatest.Cluster, prod *producer.Producer) {
	t.Helper()
	c.Produce(t,
		&kgo.Record{Topic: "docs", Partition: 0, Key: []byte("k1"), Value: []byte(`{"n":1}`), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}},
		&kgo.Record{Topic: "docs", Partition: 0, Key: nil, Value: []byte{0xff, 0x00, 0x01}},
		&kgo.Record{Topic: "docs", Partition: 1, Key: []byte{0xfe}, Value: nil},
		&kgo.Record{Topic: "docs", Partition: 1, Key: []byte("k1"), Value: []byte("plain text")},
	)
	for i := range 2 {
		msg := &consumer.Message{Topic: "docs", Partition: 1, Offset: int64(i), Key: fmt.Appendf(nil, "dead-%d", i), Value: []byte(`{"dead":true}`), Timestamp: time.Now()}
		if _, err := prod.Send(t.Context(), consumer.DeadLetter(msg, errors.New("receiver answered 500"), 3, "docs-readers", "docs.dlt", time.Now())); err != nil {
			t.Fatal(err)
		}
	}
}

// joinGroup runs a member of group consuming topic until the test ends,
// and waits until it has been assigned partitions and committed.
func joinGroup(t *testing.T, c *kafkatest.Cluster, group, topic string) {
	t.Helper()
	cl := c.Client(t, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for n := 0; n < 4 && ctx.Err() == nil; {
		n += cl.PollFetches(ctx).NumRecords()
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

// checkLiveEvent reads one /kafka/live event, sending meanwhile so that
// it has figures, and checks its data against LiveEvent.
func checkLiveEvent(t *testing.T, srv *httptest.Server, prod *producer.Producer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/kafka/live", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := httpapi.CheckAnswer("/kafka/live", "GET", resp, nil); err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("GET /kafka/live is %q, want text/event-stream as documented", ct)
	}
	if _, err := prod.Send(ctx, producer.Message{Topic: "docs", Value: []byte(`{"live":1}`)}); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			if err := httpapi.CheckSchema("LiveEvent", []byte(data)); err != nil {
				t.Errorf("a /kafka/live event: %v\n%s", err, data)
			}
			return
		}
	}
	t.Fatalf("no /kafka/live event: %v", sc.Err())
}
