package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// errorAnswer is the error envelope.
type errorAnswer struct {
	Error struct{ Code, Message, Field string }
}

// call sends method path with a JSON body (none when body is "") and
// decodes the JSON answer into v, returning the status.
func call(t *testing.T, srv *httptest.Server, method, path, body string, v any) int {
	t.Helper()
	return callAs(t, srv, "", method, path, body, v)
}

// callAs is call with `Authorization: Bearer token`, none when token is
// "".
func callAs(t *testing.T, srv *httptest.Server, token, method, path, body string, v any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s %s: %v in %s", method, path, err, b)
	}
	return resp.StatusCode
}

// topicNames lists the topics GET /kafka/topics shows.
func topicNames(t *testing.T, srv *httptest.Server) []string {
	t.Helper()
	var list struct{ Topics []admin.Topic }
	if code := get(t, srv, "/kafka/topics", "", &list); code != 200 {
		t.Fatalf("GET /kafka/topics: %d", code)
	}
	var names []string
	for _, x := range list.Topics {
		names = append(names, x.Name)
	}
	return names
}

// waitFor polls try until it succeeds or 30s pass: Apache Kafka creates
// and deletes topics in the background of the answer.
func waitFor(t *testing.T, what string, try func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !try() {
		select {
		case <-ctx.Done():
			t.Fatalf("still not %s after 30s", what)
		case <-tick.C:
		}
	}
}

func TestCreateTopicWithDryRun(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("ops.existing", 1))
	srv := serve(t, c)
	body := `{"name":"ops.created","partitions":3,"replication_factor":1,"configs":{"retention.ms":3600000,"cleanup.policy":"compact,delete","min.cleanable.dirty.ratio":"0.2"}}`
	var dry admin.CreatedTopic
	if code := call(t, srv, "POST", "/kafka/topics?dry_run=true", body, &dry); code != 200 || !dry.DryRun || dry.Partitions != 3 {
		t.Fatalf("dry run: %d %+v, want 200 with 3 partitions", code, dry)
	}
	if slices.Contains(topicNames(t, srv), "ops.created") {
		t.Fatal("a dry run created the topic")
	}
	var made admin.CreatedTopic
	if code := call(t, srv, "POST", "/kafka/topics", body, &made); code != 201 {
		t.Fatalf("create: %d %+v", code, made)
	}
	want := admin.CreatedTopic{Topic: "ops.created", Partitions: 3, ReplicationFactor: 1,
		Configs: map[string]string{"retention.ms": "3600000", "cleanup.policy": "compact,delete", "min.cleanable.dirty.ratio": "0.2"}}
	if diff := cmp.Diff(want, made); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
	var d admin.TopicDetail
	waitFor(t, "listed", func() bool {
		return get(t, srv, "/kafka/topics/ops.created", "", &d) == 200 && len(d.PartitionList) == 3
	})
	if d.Config["retention.ms"] != "3600000" || d.Config["cleanup.policy"] != "compact,delete" {
		t.Errorf("config %v, want retention.ms 3600000 and cleanup.policy compact,delete", d.Config)
	}
	var e errorAnswer
	if code := call(t, srv, "POST", "/kafka/topics", `{"name":"ops.existing","partitions":1}`, &e); code != 409 || e.Error.Code != "conflict" {
		t.Errorf("creating a topic that exists: %d %+v, want 409 conflict", code, e)
	}
}

// TestCreateTopicBadInput: each bad request is refused naming its field,
// and creates nothing.
func TestCreateTopicBadInput(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("ops.a", 1))
	srv := serve(t, c, admin.AllowedTopics("ops.*", "__evil"))
	before := topicNames(t, srv)
	for _, tc := range []struct {
		name, body  string
		status      int
		code, field string
	}{
		{"space in the name", `{"name":"ops.bad topic","partitions":1}`, 400, "invalid_request", "name"},
		{"slash in the name", `{"name":"ops/x","partitions":1}`, 400, "invalid_request", "name"},
		{"empty name", `{"name":"","partitions":1}`, 400, "invalid_request", "name"},
		{"long name", `{"name":"ops.` + strings.Repeat("x", 300) + `","partitions":1}`, 400, "invalid_request", "name"},
		{"internal name", `{"name":"__evil","partitions":1}`, 403, "forbidden", "name"},
		{"outside the allowlist", `{"name":"payments","partitions":1}`, 403, "forbidden", "name"},
		{"negative partitions", `{"name":"ops.n","partitions":-1}`, 400, "invalid_request", "partitions"},
		{"too many partitions", `{"name":"ops.n","partitions":100000}`, 400, "invalid_request", "partitions"},
		{"negative replication", `{"name":"ops.n","replication_factor":-2}`, 400, "invalid_request", "replication_factor"},
		{"partitions as text", `{"name":"ops.n","partitions":"3"}`, 400, "invalid_request", "partitions"},
		{"unknown config", `{"name":"ops.n","configs":{"retention.hours":1}}`, 400, "invalid_request", "configs.retention.hours"},
		{"number config as words", `{"name":"ops.n","configs":{"retention.ms":"1d"}}`, 400, "invalid_request", "configs.retention.ms"},
		{"number config fraction", `{"name":"ops.n","configs":{"retention.ms":1.5}}`, 400, "invalid_request", "configs.retention.ms"},
		{"number config below its least", `{"name":"ops.n","configs":{"retention.ms":-2}}`, 400, "invalid_request", "configs.retention.ms"},
		{"boolean config as a number", `{"name":"ops.n","configs":{"unclean.leader.election.enable":1}}`, 400, "invalid_request", "configs.unclean.leader.election.enable"},
		{"enum config unknown word", `{"name":"ops.n","configs":{"compression.type":"brotli"}}`, 400, "invalid_request", "configs.compression.type"},
		{"list config unknown word", `{"name":"ops.n","configs":{"cleanup.policy":"delete,forever"}}`, 400, "invalid_request", "configs.cleanup.policy"},
		{"ratio out of range", `{"name":"ops.n","configs":{"min.cleanable.dirty.ratio":2}}`, 400, "invalid_request", "configs.min.cleanable.dirty.ratio"},
		{"config as an object", `{"name":"ops.n","configs":{"retention.ms":{"v":1}}}`, 400, "invalid_request", "configs.retention.ms"},
		{"null config", `{"name":"ops.n","configs":{"retention.ms":null}}`, 400, "invalid_request", "configs.retention.ms"},
		{"unknown field", `{"name":"ops.n","partitons":3}`, 400, "invalid_request", ""},
		{"two values", `{"name":"ops.n"}{"name":"ops.m"}`, 400, "invalid_request", ""},
		{"not JSON", `name=ops.n`, 400, "invalid_request", ""},
		{"bad dry_run", ``, 400, "invalid_request", "dry_run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/kafka/topics"
			if tc.body == "" {
				path, tc.body = "/kafka/topics?dry_run=maybe", `{"name":"ops.n"}`
			}
			var e errorAnswer
			if code := call(t, srv, "POST", path, tc.body, &e); code != tc.status || e.Error.Code != tc.code || e.Error.Field != tc.field {
				t.Errorf("got %d %s field %q (%s), want %d %s field %q", code, e.Error.Code, e.Error.Field, e.Error.Message, tc.status, tc.code, tc.field)
			}
		})
	}
	if after := topicNames(t, srv); !slices.Equal(before, after) {
		t.Errorf("topics %v after bad requests, want %v", after, before)
	}
}

func TestChangeTopicPartitionsAndConfigs(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("ops.grow", 2))
	srv := serve(t, c)
	var before admin.TopicDetail
	get(t, srv, "/kafka/topics/ops.grow", "", &before)
	body := `{"partitions":4,"configs":{"retention.ms":"7200000","max.message.bytes":2000000}}`
	var dry admin.TopicChange
	if code := call(t, srv, "PATCH", "/kafka/topics/ops.grow?dry_run=true", body, &dry); code != 200 {
		t.Fatalf("dry run: %d %+v", code, dry)
	}
	if !dry.DryRun || dry.Partitions == nil || *dry.Partitions != (admin.PartitionChange{From: 2, To: 4}) || len(dry.Warnings) != 1 ||
		!strings.Contains(dry.Warnings[0], "partition of most keys") {
		t.Errorf("dry run %+v, want partitions 2 -> 4 with the key order warning", dry)
	}
	keys := map[string]admin.ConfigChange{}
	for _, ch := range dry.Configs {
		keys[ch.Key] = ch
	}
	if rc := keys["retention.ms"]; rc.To == nil || *rc.To != "7200000" || rc.From == nil || *rc.From != before.Config["retention.ms"] || len(keys) != 2 {
		t.Errorf("config diff %+v, want retention.ms from %s to 7200000 and max.message.bytes", dry.Configs, before.Config["retention.ms"])
	}
	var still admin.TopicDetail
	get(t, srv, "/kafka/topics/ops.grow", "", &still)
	if len(still.PartitionList) != 2 || still.Config["retention.ms"] != before.Config["retention.ms"] {
		t.Fatalf("a dry run changed the topic: %+v", still)
	}

	var done admin.TopicChange
	if code := call(t, srv, "PATCH", "/kafka/topics/ops.grow", body, &done); code != 200 || done.DryRun {
		t.Fatalf("change: %d %+v", code, done)
	}
	var after admin.TopicDetail
	waitFor(t, "grown", func() bool {
		return get(t, srv, "/kafka/topics/ops.grow", "", &after) == 200 && len(after.PartitionList) == 4 && after.Config["retention.ms"] == "7200000"
	})

	// null sets a setting back to its default.
	var back admin.TopicChange
	if code := call(t, srv, "PATCH", "/kafka/topics/ops.grow", `{"configs":{"retention.ms":null}}`, &back); code != 200 ||
		len(back.Configs) != 1 || back.Configs[0].To != nil || back.Configs[0].FromDefault || back.Partitions != nil {
		t.Fatalf("back to the default: %d %+v", code, back)
	}
	waitFor(t, "back to the default", func() bool {
		return get(t, srv, "/kafka/topics/ops.grow", "", &after) == 200 && after.Config["retention.ms"] == before.Config["retention.ms"]
	})
}

// TestChangeTopicBadInput: each bad change is refused naming its field
// and changes nothing.
func TestChangeTopicBadInput(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("ops.fixed", 3), kafkatest.Topic("hidden", 1))
	srv := serve(t, c, admin.AllowedTopics("ops.*", "__consumer_offsets"))
	for _, tc := range []struct {
		name, path, body string
		status           int
		code, field      string
	}{
		{"fewer partitions", "/kafka/topics/ops.fixed", `{"partitions":2}`, 400, "invalid_request", "partitions"},
		{"negative partitions", "/kafka/topics/ops.fixed", `{"partitions":-4}`, 400, "invalid_request", "partitions"},
		{"nothing to change", "/kafka/topics/ops.fixed", `{}`, 400, "invalid_request", ""},
		{"unknown config", "/kafka/topics/ops.fixed", `{"configs":{"segment.size":1}}`, 400, "invalid_request", "configs.segment.size"},
		{"wrong type", "/kafka/topics/ops.fixed", `{"configs":{"retention.bytes":true}}`, 400, "invalid_request", "configs.retention.bytes"},
		{"bad and good configs", "/kafka/topics/ops.fixed", `{"partitions":6,"configs":{"retention.ms":1000,"segment.bytes":10}}`, 400, "invalid_request", "configs.segment.bytes"},
		{"missing topic", "/kafka/topics/ops.none", `{"partitions":4}`, 404, "unknown_topic", "topic"},
		{"hidden topic", "/kafka/topics/hidden", `{"partitions":4}`, 403, "forbidden", "topic"},
		{"internal topic", "/kafka/topics/__consumer_offsets", `{"partitions":60}`, 403, "forbidden", "topic"},
		{"odd name", "/kafka/topics/ops.b%C3%A4d%20name", `{"partitions":4}`, 400, "invalid_request", "topic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e errorAnswer
			if code := call(t, srv, "PATCH", tc.path, tc.body, &e); code != tc.status || e.Error.Code != tc.code || e.Error.Field != tc.field {
				t.Errorf("got %d %s field %q (%s), want %d %s field %q", code, e.Error.Code, e.Error.Field, e.Error.Message, tc.status, tc.code, tc.field)
			}
		})
	}
	var d admin.TopicDetail
	get(t, srv, "/kafka/topics/ops.fixed", "", &d)
	if len(d.PartitionList) != 3 || d.Config["retention.ms"] == "1000" {
		t.Errorf("bad changes changed the topic: %+v", d)
	}
}

func TestDeleteTopicOnlyByItsName(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("ops.doomed", 2), kafkatest.Topic("ops.doomed2", 1))
	srv := serve(t, c)
	for _, tc := range []struct {
		name, path, body string
		status           int
		code, field      string
	}{
		{"confirm another name", "/kafka/topics/ops.doomed", `{"confirm":"ops.doomed2"}`, 400, "invalid_request", "confirm"},
		{"confirm a pattern", "/kafka/topics/ops.doomed", `{"confirm":"ops.*"}`, 400, "invalid_request", "confirm"},
		{"no confirm", "/kafka/topics/ops.doomed", `{}`, 400, "invalid_request", "confirm"},
		{"a pattern in the path", "/kafka/topics/ops.*", `{"confirm":"ops.*"}`, 400, "invalid_request", "topic"},
		{"internal topic", "/kafka/topics/__consumer_offsets", `{"confirm":"__consumer_offsets"}`, 403, "forbidden", "topic"},
		{"missing topic", "/kafka/topics/ops.never", `{"confirm":"ops.never"}`, 404, "unknown_topic", "topic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e errorAnswer
			if code := call(t, srv, "DELETE", tc.path, tc.body, &e); code != tc.status || e.Error.Code != tc.code || e.Error.Field != tc.field {
				t.Errorf("got %d %s field %q (%s), want %d %s field %q", code, e.Error.Code, e.Error.Field, e.Error.Message, tc.status, tc.code, tc.field)
			}
		})
	}
	var e errorAnswer
	if code := call(t, srv, "DELETE", "/kafka/topics/ops.doomed", "", &e); code != 415 {
		t.Errorf("no body: %d %+v, want 415", code, e)
	}
	if names := topicNames(t, srv); !slices.Contains(names, "ops.doomed") || !slices.Contains(names, "ops.doomed2") {
		t.Fatalf("refused deletes deleted: %v", names)
	}
	var gone admin.DeletedTopic
	if code := call(t, srv, "DELETE", "/kafka/topics/ops.doomed", `{"confirm":"ops.doomed"}`, &gone); code != 200 || gone != (admin.DeletedTopic{Deleted: "ops.doomed", Partitions: 2}) {
		t.Fatalf("delete: %d %+v", code, gone)
	}
	waitFor(t, "deleted", func() bool { return !slices.Contains(topicNames(t, srv), "ops.doomed") })
	if !slices.Contains(topicNames(t, srv), "ops.doomed2") {
		t.Error("deleting ops.doomed deleted ops.doomed2")
	}
}

// TestDeletedTopicStaysDeleted: on a cluster that creates topics on first
// use, the admin API's requests after a delete do not have it make the
// topic again, though its client asks for auto-creation: the delete drops
// the client's cached metadata of the topic.
func TestDeletedTopicStaysDeleted(t *testing.T) {
	kafkatest.RequireFake(t, "it watches the metadata requests the broker gets")
	c := kafkatest.NewCluster(t, kafkatest.Topic("ops.gone", 2))
	var deleted, asked atomic.Bool
	c.Fake().ControlKey(int16(kmsg.Metadata), func(r kmsg.Request) (kmsg.Response, error, bool) {
		c.Fake().KeepControl()
		req := r.(*kmsg.MetadataRequest)
		for _, tp := range req.Topics {
			if deleted.Load() && req.AllowAutoTopicCreation && tp.Topic != nil && *tp.Topic == "ops.gone" {
				asked.Store(true)
			}
		}
		return nil, nil, false
	})
	srv := serve(t, c)
	var d admin.TopicDetail
	get(t, srv, "/kafka/topics/ops.gone", "", &d) // the client now holds the topic's metadata
	var gone admin.DeletedTopic
	if code := call(t, srv, "DELETE", "/kafka/topics/ops.gone", `{"confirm":"ops.gone"}`, &gone); code != 200 {
		t.Fatalf("delete: %d %+v", code, gone)
	}
	deleted.Store(true)
	for range 3 {
		if names := topicNames(t, srv); slices.Contains(names, "ops.gone") {
			t.Fatalf("ops.gone is back: %v", names)
		}
	}
	if asked.Load() {
		t.Error("a metadata request after the delete asked the broker to create ops.gone")
	}
}
