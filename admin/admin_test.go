package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/idempotency"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// serve starts the admin API over HTTP against c.
func serve(t *testing.T, c *kafkatest.Cluster, opts ...admin.Option) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(admin.New(c.Config(), c.Client(t), opts...))
	t.Cleanup(srv.Close)
	return srv
}

// get fetches path and decodes the JSON answer into v, returning the status.
func get(t *testing.T, srv *httptest.Server, path, token string, v any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("GET %s: Content-Type %q, want application/json", path, ct)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
	return resp.StatusCode
}

func produce(t *testing.T, c *kafkatest.Cluster, recs ...*kgo.Record) {
	t.Helper()
	c.Produce(t, recs...)
}

func TestTopicsListsOffsetsAndConfig(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 3), kafkatest.Topic("audit", 1))
	produce(t, c, &kgo.Record{Topic: "orders", Partition: 0, Value: []byte("a")}, &kgo.Record{Topic: "orders", Partition: 0, Value: []byte("b")},
		&kgo.Record{Topic: "orders", Partition: 2, Value: []byte("c")})
	srv := serve(t, c)

	var list struct{ Topics []admin.Topic }
	if code := get(t, srv, "/kafka/topics", "", &list); code != 200 {
		t.Fatalf("status %d", code)
	}
	want := []admin.Topic{{Name: "audit", Partitions: 1}, {Name: "orders", Partitions: 3, Messages: 3}}
	if diff := cmp.Diff(want, list.Topics); diff != "" {
		t.Errorf("topics (-want +got):\n%s", diff)
	}

	var d admin.TopicDetail
	if code := get(t, srv, "/kafka/topics/orders", "", &d); code != 200 {
		t.Fatalf("status %d", code)
	}
	if d.Messages != 3 || len(d.PartitionList) != 3 {
		t.Fatalf("got %+v, want 3 messages in 3 partitions", d)
	}
	if p := d.PartitionList[0]; p.Start != 0 || p.End != 2 || p.Messages != 2 {
		t.Errorf("partition 0: got %+v, want offsets 0 to 2", p)
	}
	if d.Config["cleanup.policy"] == "" || d.Config["retention.ms"] == "" {
		t.Errorf("config %v lacks cleanup.policy or retention.ms", d.Config)
	}
}

func TestTopicsHonourTheAllowlist(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("public.a", 1), kafkatest.Topic("private", 1))
	srv := serve(t, c, admin.AllowedTopics("public.*"))
	var list struct{ Topics []admin.Topic }
	get(t, srv, "/kafka/topics", "", &list)
	if len(list.Topics) != 1 || list.Topics[0].Name != "public.a" {
		t.Errorf("got %+v, want only public.a", list.Topics)
	}
}

// TestIdempotencyTopicIsHidden: kafkakit's own idempotency state holds
// other callers' answers; no allowlist shows it.
func TestIdempotencyTopicIsHidden(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("visible", 1), kafkatest.Topic(idempotency.Topic, 1))
	srv := serve(t, c)
	var list struct{ Topics []admin.Topic }
	get(t, srv, "/kafka/topics", "", &list)
	if len(list.Topics) != 1 || list.Topics[0].Name != "visible" {
		t.Errorf("got %+v, want only visible", list.Topics)
	}
	for _, path := range []string{"/kafka/topics/" + idempotency.Topic, "/kafka/topics/" + idempotency.Topic + "/messages"} {
		var e struct{ Error struct{ Code string } }
		if code := get(t, srv, path, "", &e); code != 403 || e.Error.Code != "forbidden" {
			t.Errorf("GET %s: got %d %s, want 403 forbidden", path, code, e.Error.Code)
		}
	}
}

type message struct {
	Topic         string
	Partition     int32
	Offset        int64
	Key           *string
	KeyEncoding   string `json:"key_encoding"`
	Value         json.RawMessage
	ValueEncoding string `json:"value_encoding"`
	Headers       []struct {
		Key   string
		Value *string
	}
}

func TestMessagesNewestFirstAsTheWebhookEncodesThem(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("browse", 2))
	base := time.Now().Add(-time.Minute)
	produce(t, c,
		&kgo.Record{Topic: "browse", Partition: 0, Key: []byte("k1"), Value: []byte(`{"n":1}`), Timestamp: base},
		&kgo.Record{Topic: "browse", Partition: 1, Key: []byte("k2"), Value: []byte("plain"), Timestamp: base.Add(time.Second),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}},
		&kgo.Record{Topic: "browse", Partition: 0, Key: []byte("k1"), Value: []byte{0xff, 0x00}, Timestamp: base.Add(2 * time.Second)},
	)
	srv := serve(t, c)

	var page struct{ Messages []message }
	if code := get(t, srv, "/kafka/topics/browse/messages", "", &page); code != 200 {
		t.Fatalf("status %d", code)
	}
	got := page.Messages
	if len(got) != 3 {
		t.Fatalf("got %d messages, want 3", len(got))
	}
	if got[0].ValueEncoding != "base64" || string(got[0].Value) != `"/wA="` {
		t.Errorf("newest: got %s (%s), want base64 /wA=", got[0].Value, got[0].ValueEncoding)
	}
	if got[1].ValueEncoding != "string" || string(got[1].Value) != `"plain"` || len(got[1].Headers) != 1 || *got[1].Headers[0].Value != "v" {
		t.Errorf("second: got %+v", got[1])
	}
	if got[2].ValueEncoding != "json" || string(got[2].Value) != `{"n":1}` || *got[2].Key != "k1" {
		t.Errorf("oldest: got %+v", got[2])
	}

	get(t, srv, "/kafka/topics/browse/messages?limit=1", "", &page)
	if len(page.Messages) != 1 || page.Messages[0].Offset != 1 || page.Messages[0].Partition != 0 {
		t.Errorf("limit=1: got %+v, want partition 0 offset 1", page.Messages)
	}
	get(t, srv, "/kafka/topics/browse/messages?partition=0&offset=0&limit=1", "", &page)
	if len(page.Messages) != 1 || page.Messages[0].Offset != 0 {
		t.Errorf("offset=0: got %+v, want offset 0", page.Messages)
	}
	get(t, srv, "/kafka/topics/browse/messages?key=k2", "", &page)
	if len(page.Messages) != 1 || *page.Messages[0].Key != "k2" {
		t.Errorf("key=k2: got %+v", page.Messages)
	}
	get(t, srv, "/kafka/topics/browse/messages?partition=1&offset=5", "", &page)
	if len(page.Messages) != 0 {
		t.Errorf("past the end: got %+v, want none", page.Messages)
	}
	get(t, srv, "/kafka/topics/browse/messages?from="+strconv.FormatInt(base.Add(time.Second).UnixMilli(), 10), "", &page)
	if len(page.Messages) != 2 || page.Messages[0].Partition != 1 || page.Messages[1].Offset != 1 {
		t.Errorf("from base+1s: got %+v, want partition 1 offset 0 then partition 0 offset 1, oldest first", page.Messages)
	}
	get(t, srv, "/kafka/topics/browse/messages?partition=0&from="+base.Add(1500*time.Millisecond).UTC().Format(time.RFC3339Nano), "", &page)
	if len(page.Messages) != 1 || page.Messages[0].Offset != 1 {
		t.Errorf("from base+1.5s on partition 0: got %+v, want offset 1", page.Messages)
	}
	get(t, srv, "/kafka/topics/browse/messages?from="+strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10), "", &page)
	if len(page.Messages) != 0 {
		t.Errorf("from an hour ahead: got %+v, want none", page.Messages)
	}
}

func TestGroupLag(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("work", 2))
	for range 5 {
		produce(t, c, &kgo.Record{Topic: "work", Partition: 0, Value: []byte("x")})
	}
	produce(t, c, &kgo.Record{Topic: "work", Partition: 1, Value: []byte("y")})
	adm := kadm.NewClient(c.Client(t))
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: "work", Partition: 0, At: 2, LeaderEpoch: -1})
	offsets.Add(kadm.Offset{Topic: "work", Partition: 1, At: 1, LeaderEpoch: -1})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := adm.CommitAllOffsets(ctx, "billing", offsets); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, c)

	var list struct{ Groups []admin.Group }
	if code := get(t, srv, "/kafka/groups", "", &list); code != 200 || len(list.Groups) != 1 || list.Groups[0].Name != "billing" {
		t.Fatalf("status %d, groups %+v, want billing", code, list.Groups)
	}
	var d admin.GroupDetail
	if code := get(t, srv, "/kafka/groups/billing", "", &d); code != 200 {
		t.Fatalf("status %d", code)
	}
	want := []admin.GroupOffset{
		{Topic: "work", Partition: 0, Committed: 2, HighWatermark: 5, Lag: 3},
		{Topic: "work", Partition: 1, Committed: 1, HighWatermark: 1, Lag: 0},
	}
	if diff := cmp.Diff(want, d.Offsets); diff != "" || d.Lag != 3 {
		t.Errorf("lag %d, offsets (-want +got):\n%s", d.Lag, diff)
	}
}

func TestBadInputNamesTheField(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("t", 2), kafkatest.Topic("hidden", 1))
	srv := serve(t, c, admin.AllowedTopics("t", "nope"))
	for _, tc := range []struct {
		path        string
		status      int
		code, field string
	}{
		{"/kafka/topics/nope", 404, "unknown_topic", "topic"},
		{"/kafka/topics/nope/messages", 404, "unknown_topic", "topic"},
		{"/kafka/topics/hidden", 403, "forbidden", "topic"},
		{"/kafka/topics/hidden/messages", 403, "forbidden", "topic"},
		{"/kafka/topics/t/messages?partition=2", 400, "invalid_request", "partition"},
		{"/kafka/topics/t/messages?partition=-1", 400, "invalid_request", "partition"},
		{"/kafka/topics/t/messages?partition=x", 400, "invalid_request", "partition"},
		{"/kafka/topics/t/messages?partition=0&offset=-1", 400, "invalid_request", "offset"},
		{"/kafka/topics/t/messages?partition=0&offset=x", 400, "invalid_request", "offset"},
		{"/kafka/topics/t/messages?offset=0", 400, "invalid_request", "offset"},
		{"/kafka/topics/t/messages?limit=0", 400, "invalid_request", "limit"},
		{"/kafka/topics/t/messages?limit=101", 400, "invalid_request", "limit"},
		{"/kafka/topics/t/messages?limit=many", 400, "invalid_request", "limit"},
		{"/kafka/topics/t/messages?from=yesterday", 400, "invalid_request", "from"},
		{"/kafka/topics/t/messages?from=-5", 400, "invalid_request", "from"},
		{"/kafka/topics/t/messages?partition=0&offset=0&from=0", 400, "invalid_request", "from"},
		{"/kafka/groups/nobody", 404, "not_found", "group"},
		{"/kafka/topics/t/other", 404, "not_found", ""},
	} {
		var e struct {
			Error struct{ Code, Message, Field string }
		}
		code := get(t, srv, tc.path, "", &e)
		if code != tc.status || e.Error.Code != tc.code || e.Error.Field != tc.field || e.Error.Message == "" {
			t.Errorf("GET %s: got %d %+v, want %d %s field %q", tc.path, code, e.Error, tc.status, tc.code, tc.field)
		}
	}
	var list struct{ Topics []admin.Topic }
	get(t, srv, "/kafka/topics", "", &list)
	if len(list.Topics) != 1 || list.Topics[0].Name != "t" {
		t.Errorf("after looking at topic nope: topics %+v, want only t: looking must not create", list.Topics)
	}
}

func TestTokenRequired(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("t", 1))
	srv := serve(t, c, admin.AuthToken("s3cret"))
	var e struct{ Error struct{ Code string } }
	for _, token := range []string{"", "wrong"} {
		if code := get(t, srv, "/kafka/topics", token, &e); code != 401 || e.Error.Code != "unauthorized" {
			t.Errorf("token %q: got %d %s, want 401 unauthorized", token, code, e.Error.Code)
		}
	}
	var list struct{ Topics []admin.Topic }
	if code := get(t, srv, "/kafka/topics", "s3cret", &list); code != 200 || len(list.Topics) != 1 {
		t.Errorf("right token: got %d %+v", code, list.Topics)
	}
}
