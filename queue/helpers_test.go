package queue_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/queue"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testLock is the lock duration the tests give their groups: short, so
// that a lease that runs out comes back within seconds.
const testLock = 3 * time.Second

// newCluster starts a cluster whose share groups lock records for
// testLock and notice an expired lock within 100ms.
func newCluster(t *testing.T, opts ...kafkatest.Option) *kafkatest.Cluster {
	t.Helper()
	return newClusterLock(t, testLock, opts...)
}

// newClusterLock is newCluster with lock for the lock's length; give
// startGroupLock the same.
func newClusterLock(t *testing.T, lock time.Duration, opts ...kafkatest.Option) *kafkatest.Cluster {
	t.Helper()
	c := kafkatest.NewCluster(t, opts...)
	if !kafkatest.External() {
		// kfake reads the lock's length from the broker's configuration
		// only; Apache Kafka from the group's, set by startGroup.
		alterConfigs(t, c, kmsg.ConfigResourceTypeBroker, "", map[string]string{
			"group.share.record.lock.duration.ms": strconv.Itoa(int(lock.Milliseconds())),
			"share.record.lock.sweep.interval.ms": "100",
		})
	}
	return c
}

// startGroup makes group start at the oldest record, and lock records for
// testLock, before any member joins.
func startGroup(t *testing.T, c *kafkatest.Cluster, group string) {
	t.Helper()
	startGroupLock(t, c, group, testLock)
}

func startGroupLock(t *testing.T, c *kafkatest.Cluster, group string, lock time.Duration) {
	t.Helper()
	alterConfigs(t, c, kmsg.ConfigResourceTypeGroupConfig, group, map[string]string{
		"share.auto.offset.reset":       "earliest",
		"share.record.lock.duration.ms": strconv.Itoa(int(lock.Milliseconds())),
	})
}

func alterConfigs(t *testing.T, c *kafkatest.Cluster, typ kmsg.ConfigResourceType, name string, configs map[string]string) {
	t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = typ, name
	for k, v := range configs {
		rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		rc.Name, rc.Op, rc.Value = k, kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr(v)
		res.Configs = append(res.Configs, rc)
	}
	req.Resources = append(req.Resources, res)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, c.Client(t))
	if err != nil {
		t.Fatalf("alter configs of %q: %v", name, err)
	}
	for _, r := range resp.Resources {
		if r.ErrorCode != 0 {
			msg := ""
			if r.ErrorMessage != nil {
				msg = *r.ErrorMessage
			}
			t.Fatalf("alter configs of %q: error %d %s", name, r.ErrorCode, msg)
		}
	}
}

// produceN writes n records to partition 0 of topic, values "0".."n-1".
func produceN(t *testing.T, c *kafkatest.Cluster, topic string, n int) {
	t.Helper()
	const chunk = 1000
	for start := 0; start < n; start += chunk {
		var recs []*kgo.Record
		for i := start; i < min(n, start+chunk); i++ {
			recs = append(recs, &kgo.Record{Topic: topic, Key: []byte("k" + strconv.Itoa(i%7)), Value: []byte(strconv.Itoa(i))})
		}
		c.Produce(t, recs...)
	}
}

// replica is a queue handler served on 127.0.0.1.
type replica struct {
	h   *queue.Handler
	srv *httptest.Server
}

// newReplica serves a queue handler for c. With a secret, the handler
// advertises its own URL.
func newReplica(t *testing.T, c *kafkatest.Cluster, secret string, opts ...queue.Option) *replica {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	url := "http://" + srv.Listener.Addr().String()
	all := []queue.Option{queue.RequestTimeout(10 * time.Second)}
	if secret != "" {
		all = append(all, queue.Secret(config.Secret(secret)), queue.AdvertisedURL(url))
	}
	h, err := queue.New(c.Config(), c.Client(t), append(all, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(func() { srv.Close(); h.Close() })
	return &replica{h: h, srv: srv}
}

// queueRecord is a record of a receive answer.
type queueRecord struct {
	Topic          string `json:"topic"`
	Partition      int32  `json:"partition"`
	Offset         int64  `json:"offset"`
	Value          json.RawMessage
	ValueEncoding  string `json:"value_encoding"`
	DeliveryCount  int    `json:"delivery_count"`
	Receipt        string `json:"receipt"`
	LeaseExpiresAt string `json:"lease_expires_at"`
}

// value is the record's value as the text the tests produce.
func (r queueRecord) value() string {
	var s string
	if json.Unmarshal(r.Value, &s) == nil {
		return s
	}
	return string(r.Value)
}

type ackResult struct {
	OK             bool   `json:"ok"`
	Receipt        string `json:"receipt"`
	LeaseExpiresAt string `json:"lease_expires_at"`
	Status         int    `json:"status"`
	Error          *struct {
		Code, Message, Field string
	} `json:"error"`
}

// post sends body to url with the token, and returns the status and body.
func post(t testing.TB, url, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// receive asks base for up to max records of topic for group.
func receive(t testing.TB, base, group, topic string, max, waitMS int) []queueRecord {
	t.Helper()
	status, body := post(t, base+"/kafka/queues/"+group+"/receive", "",
		`{"topics":["`+topic+`"],"max":`+strconv.Itoa(max)+`,"wait_ms":`+strconv.Itoa(waitMS)+`}`)
	if status != http.StatusOK {
		t.Fatalf("receive: %d %s", status, body)
	}
	var answer struct{ Records []queueRecord }
	if err := json.Unmarshal(body, &answer); err != nil {
		t.Fatalf("receive: %v: %s", err, body)
	}
	return answer.Records
}

// ack settles receipts with outcome at base, and returns the status and
// results.
func ack(t testing.TB, base, group, outcome string, receipts ...string) (int, []ackResult) {
	t.Helper()
	type item struct {
		Receipt string `json:"receipt"`
		Outcome string `json:"outcome"`
	}
	var body struct {
		Acks []item `json:"acks"`
	}
	for _, r := range receipts {
		body.Acks = append(body.Acks, item{r, outcome})
	}
	b, _ := json.Marshal(body)
	status, answer := post(t, base+"/kafka/queues/"+group+"/ack", "", string(b))
	var res struct{ Results []ackResult }
	if err := json.Unmarshal(answer, &res); err != nil {
		t.Fatalf("ack: %d %v: %s", status, err, answer)
	}
	return status, res.Results
}

// receipts are the records' receipts.
func receipts(recs []queueRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Receipt
	}
	return out
}

type countError struct{ got, want int }

func (e countError) Error() string {
	return "have " + strconv.Itoa(e.got) + " of " + strconv.Itoa(e.want)
}

func errCount(got, want int) error { return countError{got, want} }

// postType posts body as contentType.
func postType(t testing.TB, url, contentType, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, contentType, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// tryReceive is receive for callers that expect failures (a killed
// replica): it returns an error instead of failing the test.
func tryReceive(base, group, topic string, max, waitMS int) ([]queueRecord, error) {
	resp, err := http.Post(base+"/kafka/queues/"+group+"/receive", "application/json",
		bytes.NewBufferString(`{"topics":["`+topic+`"],"max":`+strconv.Itoa(max)+`,"wait_ms":`+strconv.Itoa(waitMS)+`}`))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, errStatus{resp.StatusCode, string(b)}
	}
	var answer struct{ Records []queueRecord }
	if err := json.Unmarshal(b, &answer); err != nil {
		return nil, err
	}
	return answer.Records, nil
}

// tryAck is ack for callers that expect failures.
func tryAck(base, group, outcome string, receipts ...string) (int, []ackResult, error) {
	type item struct {
		Receipt string `json:"receipt"`
		Outcome string `json:"outcome"`
	}
	var body struct {
		Acks []item `json:"acks"`
	}
	for _, r := range receipts {
		body.Acks = append(body.Acks, item{r, outcome})
	}
	b, _ := json.Marshal(body)
	resp, err := http.Post(base+"/kafka/queues/"+group+"/ack", "application/json", bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var res struct{ Results []ackResult }
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return resp.StatusCode, nil, err
	}
	if len(res.Results) != len(receipts) {
		return resp.StatusCode, nil, errStatus{resp.StatusCode, "results do not match the acknowledgements"}
	}
	return resp.StatusCode, res.Results, nil
}

type errStatus struct {
	status int
	body   string
}

func (e errStatus) Error() string { return strconv.Itoa(e.status) + " " + e.body }
