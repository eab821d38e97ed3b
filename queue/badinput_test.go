package queue_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/queue"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// forge changes one byte of a receipt's payload, keeping its tag.
func forge(receipt string) string {
	b, _ := base64.RawURLEncoding.DecodeString(receipt)
	b[10] ^= 1
	return base64.RawURLEncoding.EncodeToString(b)
}

// TestBadInput: each malformed request, and each receipt that is forged,
// of another group or unknown, is a clear 4xx naming the field at fault,
// and acknowledges nothing: the leased records all come back once their
// leases end.
func TestBadInput(t *testing.T) {
	kafkatest.Parallel(t)
	const topic, group = "q-bad", "g-bad"
	c := newCluster(t, kafkatest.Topic(topic, 1))
	startGroup(t, c, group)
	produceN(t, c, topic, 2)
	r := newReplica(t, c, "a shared secret of the replicas")
	other := newReplica(t, c, "another secret, another cluster")
	recs := receiveN(t, r.srv.URL, group, topic, 2)
	good := recs[0].Receipt
	ackURL := r.srv.URL + "/kafka/queues/" + group + "/ack"
	for _, tc := range badQueueRequests(r.srv.URL, group, topic, good, recs[1].Receipt) {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, tc.url, "", tc.body)
			var answer struct {
				Error struct{ Code, Field, Message string }
			}
			if err := json.Unmarshal(body, &answer); err != nil {
				t.Fatalf("%d %s: %v", status, body, err)
			}
			if status != tc.status || answer.Error.Code != tc.code || answer.Error.Field != tc.field || answer.Error.Message == "" {
				t.Errorf("got %d %s, want %d %s field %q", status, body, tc.status, tc.code, tc.field)
			}
		})
	}
	status, body := postType(t, ackURL, "text/plain", ackOne(good, "accept"))
	if status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: got %d %s, want 415", status, body)
	}
	status, body = post(t, other.srv.URL+"/kafka/queues/"+group+"/ack", "", ackOne(good, "accept"))
	if status != http.StatusBadRequest || !strings.Contains(string(body), "invalid_receipt") {
		t.Errorf("a receipt at a replica of another secret: got %d %s, want 400 invalid_receipt", status, body)
	}
	// Nothing was acknowledged: both records come back after their leases.
	again := receiveN(t, r.srv.URL, group, topic, 2)
	for _, rec := range again {
		if rec.DeliveryCount != 2 {
			t.Errorf("record %s: delivery %d, want 2 (back after its lease)", rec.value(), rec.DeliveryCount)
		}
	}
	if status, res := ack(t, r.srv.URL, group, "accept", receipts(again)...); status != http.StatusOK || !allOK(res) {
		t.Fatalf("accept: %d %+v", status, res)
	}
}

// ackOne is an ack body of one receipt and its outcome.
func ackOne(receipt, outcome string) string {
	b, _ := json.Marshal(map[string]any{"acks": []map[string]string{{"receipt": receipt, "outcome": outcome}}})
	return string(b)
}

// badQueueRequest is a bad request to a queue route and the refusal it
// gets.
type badQueueRequest struct {
	name, url, body string
	status          int
	code, field     string
}

// badQueueRequests are bad requests to the replica at base for group and
// topic, given good and second, the receipts of its two leased records.
func badQueueRequests(base, group, topic, good, second string) []badQueueRequest {
	foreign := func() string { // the tag's last character changed
		b, _ := base64.RawURLEncoding.DecodeString(good)
		return base64.RawURLEncoding.EncodeToString(b[:len(b)-1]) + "A"
	}()
	ackURL, recvURL := base+"/kafka/queues/"+group+"/ack", base+"/kafka/queues/"+group+"/receive"
	return []badQueueRequest{
		{"forged receipt", ackURL, ackOne(forge(good), "accept"), 400, "invalid_receipt", "acks[0].receipt"},
		{"tag changed", ackURL, ackOne(foreign, "accept"), 400, "invalid_receipt", "acks[0].receipt"},
		{"garbage receipt", ackURL, ackOne("not a receipt", "accept"), 400, "invalid_receipt", "acks[0].receipt"},
		{"empty receipt", ackURL, ackOne("", "accept"), 400, "invalid_receipt", "acks[0].receipt"},
		{"huge receipt", ackURL, ackOne(strings.Repeat("A", 5000), "accept"), 400, "invalid_receipt", "acks[0].receipt"},
		{"receipt of another group", base + "/kafka/queues/g-other/ack", ackOne(good, "accept"), 400, "invalid_receipt", "acks[0].receipt"},
		{"unknown outcome", ackURL, ackOne(good, "commit"), 400, "invalid_request", "acks[0].outcome"},
		{"one bad item of two", ackURL, `{"acks":[{"receipt":"` + good + `","outcome":"accept"},{"receipt":"` + second + `","outcome":"ACCEPT"}]}`, 400, "invalid_request", "acks[1].outcome"},
		{"same receipt twice", ackURL, `{"acks":[{"receipt":"` + good + `","outcome":"accept"},{"receipt":"` + good + `","outcome":"release"}]}`, 400, "invalid_request", "acks[1].receipt"},
		{"no acks", ackURL, `{"acks":[]}`, 400, "invalid_request", "acks"},
		{"unknown field", ackURL, `{"acks":[],"commit":true}`, 400, "invalid_request", ""},
		{"not JSON", ackURL, `{"acks":`, 400, "invalid_request", ""},
		{"two values", ackURL, ackOne(good, "accept") + "{}", 400, "invalid_request", ""},
		{"max 0", recvURL, `{"topics":["` + topic + `"],"max":0}`, 400, "invalid_request", "max"},
		{"max too large", recvURL, `{"topics":["` + topic + `"],"max":1001}`, 400, "invalid_request", "max"},
		{"wait negative", recvURL, `{"topics":["` + topic + `"],"wait_ms":-1}`, 400, "invalid_request", "wait_ms"},
		{"wait too long", recvURL, `{"topics":["` + topic + `"],"wait_ms":20001}`, 400, "invalid_request", "wait_ms"},
		{"no topics", recvURL, `{"topics":[]}`, 400, "invalid_request", "topics"},
		{"bad topic", recvURL, `{"topics":["a b"]}`, 400, "invalid_request", "topics[0]"},
		{"topic twice", recvURL, `{"topics":["` + topic + `","` + topic + `"]}`, 400, "invalid_request", "topics[1]"},
		{"kafkakit's own topic", recvURL, `{"topics":["__kafkakit_idempotency"]}`, 403, "forbidden", "topics[0]"},
		{"wait as text", recvURL, `{"topics":["` + topic + `"],"wait_ms":"5"}`, 400, "invalid_request", ""},
		{"group too long", base + "/kafka/queues/" + strings.Repeat("g", 250) + "/receive", `{"topics":["` + topic + `"]}`, 400, "invalid_request", "group"},
	}
}

// TestAuthAndAllowlist: the routes need the bearer token, and receive only
// topics the allowlist names.
func TestAuthAndAllowlist(t *testing.T) {
	kafkatest.Parallel(t)
	c := newCluster(t, kafkatest.Topic("q-open", 1))
	r := newReplica(t, c, "", queue.AuthToken(config.Secret("tok")), queue.AllowedTopics("q-open"))
	url := r.srv.URL + "/kafka/queues/g/receive"
	if status, body := post(t, url, "", `{"topics":["q-open"],"wait_ms":0}`); status != http.StatusUnauthorized {
		t.Errorf("no token: %d %s, want 401", status, body)
	}
	if status, body := post(t, url, "wrong", `{"topics":["q-open"],"wait_ms":0}`); status != http.StatusUnauthorized {
		t.Errorf("wrong token: %d %s, want 401", status, body)
	}
	if status, body := post(t, url, "tok", `{"topics":["q-secret"],"wait_ms":0}`); status != http.StatusForbidden {
		t.Errorf("topic not allowed: %d %s, want 403", status, body)
	}
	if status, body := post(t, url, "tok", `{"topics":["q-open"],"wait_ms":0}`); status != http.StatusOK {
		t.Errorf("allowed: %d %s, want 200", status, body)
	}
	if status, body := post(t, r.srv.URL+"/kafka/queues/g/peek", "tok", `{}`); status != http.StatusNotFound {
		t.Errorf("unknown route: %d %s, want 404", status, body)
	}
}

// TestClusterWithoutShareGroups: a cluster whose brokers lack the share
// group requests, or have share.version off, is answered 501 naming what
// it lacks, rather than a wait for records that cannot come.
func TestClusterWithoutShareGroups(t *testing.T) {
	kafkatest.Parallel(t)
	t.Run("old brokers", func(t *testing.T) {
		c := kafkatest.NewCluster(t, kafkatest.KfakeOpts(kfake.MaxVersions(kversion.V3_9_0())))
		r := newReplica(t, c, "")
		status, body := post(t, r.srv.URL+"/kafka/queues/g/receive", "", `{"topics":["t"],"wait_ms":20000}`)
		if status != http.StatusNotImplemented || !strings.Contains(string(body), "share_groups_unsupported") || !strings.Contains(string(body), "ShareGroupHeartbeat") {
			t.Errorf("got %d %s, want 501 share_groups_unsupported naming ShareGroupHeartbeat", status, body)
		}
	})
	t.Run("share.version off", func(t *testing.T) {
		// Turning a feature off is for the whole cluster: never on a
		// shared one.
		kafkatest.RequireFake(t, "it turns share groups off for the whole cluster")
		c := kafkatest.NewCluster(t)
		req := kmsg.NewPtrUpdateFeaturesRequest()
		fu := kmsg.NewUpdateFeaturesRequestFeatureUpdate()
		fu.Feature, fu.MaxVersionLevel, fu.UpgradeType = "share.version", 0, 3
		req.FeatureUpdates = append(req.FeatureUpdates, fu)
		resp, err := req.RequestWith(t.Context(), c.Client(t))
		if err != nil || resp.ErrorCode != 0 {
			t.Fatalf("turn share groups off: %v %+v", err, resp)
		}
		r := newReplica(t, c, "")
		status, body := post(t, r.srv.URL+"/kafka/queues/g/receive", "", `{"topics":["t"],"wait_ms":20000}`)
		if status != http.StatusNotImplemented || !strings.Contains(string(body), "share.version") {
			t.Errorf("got %d %s, want 501 naming share.version", status, body)
		}
	})
}
