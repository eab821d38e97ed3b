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

// The routes of the admin API, as the document names them.
const (
	adminTopic    = "/kafka/topics/{topic}"
	adminMessages = "/kafka/topics/{topic}/messages"
	adminGroup    = "/kafka/groups/{group}"
	adminDLQ      = "/kafka/dlq/{topic}"
	adminReplay   = "/kafka/dlq/{topic}/replay"
	adminLive     = "/kafka/live"
	adminReset    = "/kafka/groups/{group}/reset"
)

// appJSON is the content type of the admin API's request bodies.
const appJSON = "application/json"

// adminDocRequests ask the admin API of TestOpenAPIDescribesAdminAnswers
// for each kind of answer each route gives.
var adminDocRequests = []adminRequest{
	{route: "/kafka/topics", method: "GET", path: "/kafka/topics"},
	{route: "/kafka/topics", method: "GET", path: "/kafka/topics", header: map[string]string{"Authorization": "Bearer wrong"}},
	{route: "/kafka/topics", method: "POST", path: "/kafka/topics"},
	{route: adminTopic, method: "GET", path: "/kafka/topics/docs"},
	{route: adminTopic, method: "GET", path: "/kafka/topics/secret"},
	{route: adminTopic, method: "GET", path: "/kafka/topics/docs.none"},
	{route: adminTopic, method: "DELETE", path: "/kafka/topics/docs"},
	{route: adminMessages, method: "GET", path: "/kafka/topics/docs/messages"},
	{route: adminMessages, method: "GET", path: "/kafka/topics/docs/messages?partition=0&offset=0&limit=5"},
	{route: adminMessages, method: "GET", path: "/kafka/topics/docs/messages?key=k1"},
	{route: adminMessages, method: "GET", path: "/kafka/topics/docs/messages?from=0"},
	{route: adminMessages, method: "GET", path: "/kafka/topics/docs/messages?from=yesterday"},
	{route: adminMessages, method: "GET", path: "/kafka/topics/docs/messages?limit=0"},
	{route: adminMessages, method: "GET", path: "/kafka/topics/docs/messages?offset=3"},
	{route: adminMessages, method: "GET", path: "/kafka/topics/docs/messages?partition=9"},
	{route: adminMessages, method: "GET", path: "/kafka/topics/secret/messages"},
	{route: adminMessages, method: "GET", path: "/kafka/topics/docs.none/messages"},
	{route: "/kafka/groups", method: "GET", path: "/kafka/groups"},
	{route: adminGroup, method: "GET", path: "/kafka/groups/docs-readers"},
	{route: adminGroup, method: "GET", path: "/kafka/groups/nobody"},
	{route: "/kafka/share-groups", method: "GET", path: "/kafka/share-groups"},
	{route: "/kafka/share-groups/{group}", method: "GET", path: "/kafka/share-groups/nobody"},
	{route: adminDLQ, method: "GET", path: "/kafka/dlq/docs.dlt"},
	{route: adminDLQ, method: "GET", path: "/kafka/dlq/docs.dlt?limit=x"},
	{route: adminDLQ, method: "GET", path: "/kafka/dlq/secret"},
	{route: adminDLQ, method: "GET", path: "/kafka/dlq/docs.none"},
	{route: adminReplay, method: "POST", path: "/kafka/dlq/docs.dlt/replay", contentType: appJSON, body: `{"dry_run":true}`},
	{route: adminReplay, method: "POST", path: "/kafka/dlq/docs.dlt/replay", contentType: appJSON, body: `{"dry_run":true,"select":{"original_topic":"docs","key":"dead-1","from_offset":0}}`},
	{route: adminReplay, method: "POST", path: "/kafka/dlq/docs.dlt/replay", contentType: appJSON, body: `{"select":{"key":"dead-0"}}`},
	{route: adminReplay, method: "POST", path: "/kafka/dlq/docs.dlt/replay", contentType: "text/plain", body: `{}`},
	{route: adminReplay, method: "POST", path: "/kafka/dlq/docs.dlt/replay", contentType: appJSON, body: `{"dry_run":true,"bogus":1}`},
	{route: adminReplay, method: "POST", path: "/kafka/dlq/docs.dlt/replay", contentType: appJSON, body: `{"select":{"from":"yesterday"}}`},
	{route: adminReplay, method: "POST", path: "/kafka/dlq/docs.dlt/replay", contentType: appJSON, body: `{"to":"secret"}`},
	{route: adminReplay, method: "POST", path: "/kafka/dlq/docs.dlt/replay", contentType: appJSON, body: `{"to":"bad topic"}`},
	{route: adminReplay, method: "POST", path: "/kafka/dlq/docs.dlt/replay", contentType: appJSON, body: `{"to":"__consumer_offsets"}`},
	{route: adminReplay, method: "POST", path: "/kafka/dlq/docs.dlt/replay", contentType: appJSON, body: `{"dry_run":true,"to":"docs.again"}`},
	{route: adminReplay, method: "POST", path: "/kafka/dlq/secret/replay", contentType: appJSON, body: `{}`},
	{route: adminReplay, method: "POST", path: "/kafka/dlq/docs.none/replay", contentType: appJSON, body: `{}`},
	{route: adminReplay, method: "GET", path: "/kafka/dlq/docs.dlt/replay"},
	{route: "/kafka/topics", method: "POST", path: "/kafka/topics?dry_run=true", contentType: appJSON, body: `{"name":"docs.made","partitions":2}`},
	{route: "/kafka/topics", method: "POST", path: "/kafka/topics", contentType: appJSON, body: `{"name":"docs.made","partitions":2,"configs":{"retention.ms":60000}}`},
	{route: "/kafka/topics", method: "POST", path: "/kafka/topics", contentType: appJSON, body: `{"name":"docs.made","partitions":2}`},
	{route: "/kafka/topics", method: "POST", path: "/kafka/topics", contentType: appJSON, body: `{"name":"docs.x","configs":{"retention.hours":1}}`},
	{route: "/kafka/topics", method: "POST", path: "/kafka/topics", contentType: appJSON, body: `{"name":"secret.x"}`},
	{route: adminTopic, method: "PATCH", path: "/kafka/topics/docs.made?dry_run=true", contentType: appJSON, body: `{"partitions":3,"configs":{"retention.ms":null}}`},
	{route: adminTopic, method: "PATCH", path: "/kafka/topics/docs.made", contentType: appJSON, body: `{"partitions":3}`},
	{route: adminTopic, method: "PATCH", path: "/kafka/topics/docs.made", contentType: appJSON, body: `{"partitions":1}`},
	{route: adminTopic, method: "PATCH", path: "/kafka/topics/secret", contentType: appJSON, body: `{"partitions":3}`},
	{route: adminTopic, method: "PATCH", path: "/kafka/topics/docs.none", contentType: appJSON, body: `{"partitions":3}`},
	{route: adminTopic, method: "DELETE", path: "/kafka/topics/docs.made", contentType: appJSON, body: `{"confirm":"docs"}`},
	{route: adminTopic, method: "DELETE", path: "/kafka/topics/docs.made", contentType: appJSON, body: `{"confirm":"docs.made"}`},
	{route: adminReset, method: "POST", path: "/kafka/groups/docs-idle/reset", contentType: appJSON, body: `{"topics":["docs"],"to":"earliest","dry_run":true}`},
	{route: adminReset, method: "POST", path: "/kafka/groups/docs-readers/reset", contentType: appJSON, body: `{"topics":["docs"],"to":{"shift":-1}}`},
	{route: adminReset, method: "POST", path: "/kafka/groups/docs-idle/reset", contentType: appJSON, body: `{"topics":["docs"],"to":"soon"}`},
	{route: adminReset, method: "POST", path: "/kafka/groups/docs-idle/reset", contentType: appJSON, body: `{"topics":["secret"],"to":"earliest"}`},
	{route: adminReset, method: "POST", path: "/kafka/groups/docs-idle/reset", contentType: appJSON, body: `{"topics":["docs.none"],"to":"earliest"}`},
	{route: adminGroup, method: "DELETE", path: "/kafka/groups/docs-readers"},
	{route: adminGroup, method: "DELETE", path: "/kafka/groups/docs-idle"},
	{route: "/kafka/consumers", method: "GET", path: "/kafka/consumers"},
	{route: "/kafka/consumers", method: "POST", path: "/kafka/consumers", contentType: appJSON, body: "{}"},
	{route: adminLive, method: "GET", path: "/kafka/live", header: map[string]string{"Last-Event-ID": "soon"}},
	{route: adminLive, method: "POST", path: "/kafka/live"},
}

// adminAnswersWanted are the route and status pairs adminDocRequests must
// have been answered with, each at least once.
var adminAnswersWanted = []string{
	"/kafka/topics 200 OK",
	adminMessages + " 200 OK",
	adminMessages + " 400 Bad Request",
	adminGroup + " 200 OK",
	adminDLQ + " 200 OK",
	"/kafka/consumers 200 OK",
	"/kafka/consumers 405 Method Not Allowed",
	adminReplay + " 200 OK",
	adminReplay + " 403 Forbidden",
	adminReplay + " 404 Not Found",
	adminReplay + " 405 Method Not Allowed",
	"/kafka/topics 201 Created",
	"/kafka/topics 409 Conflict",
	adminTopic + " 200 OK",
	adminTopic + " 400 Bad Request",
	adminReset + " 200 OK",
	adminReset + " 409 Conflict",
	adminReset + " 400 Bad Request",
	adminReset + " 403 Forbidden",
	adminReset + " 404 Not Found",
	adminGroup + " 409 Conflict",
	adminGroup + " 404 Not Found",
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

	seen := map[string]bool{}
	for _, r := range adminDocRequests {
		resp, body := doAdmin(t, srv, r)
		seen[r.route+" "+resp.Status] = true
		if err := httpapi.CheckAnswer(r.route, r.method, resp, body); err != nil {
			t.Errorf("%s %s: %v", r.method, r.path, err)
		}
	}
	// Without a metrics registry, /kafka/live is 404.
	resp, body := doAdmin(t, bare, adminRequest{route: adminLive, method: "GET", path: adminLive})
	if err := httpapi.CheckAnswer(adminLive, "GET", resp, body); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /kafka/live without metrics: %d, %v", resp.StatusCode, err)
	}
	checkLiveEvent(t, srv, prod)
	for _, want := range adminAnswersWanted {
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
