package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/queue"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestOpenAPIDescribesQueueAnswers asks the queue routes for each kind of
// answer and checks the document lists the status and the body has what
// its schema requires.
func TestOpenAPIDescribesQueueAnswers(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("docs-queue", 1))
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeGroupConfig, "docs"
	rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	rc.Name, rc.Op, rc.Value = "share.auto.offset.reset", kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("earliest")
	res.Configs = append(res.Configs, rc)
	req.Resources = append(req.Resources, res)
	if _, err := req.RequestWith(t.Context(), c.Client(t)); err != nil {
		t.Fatal(err)
	}
	c.Produce(t, &kgo.Record{Topic: "docs-queue", Value: []byte(`{"a":1}`)}, &kgo.Record{Topic: "docs-queue", Value: []byte{0xff}})
	q, err := queue.New(c.Config(), c.Client(t), queue.AuthToken("tok"), queue.AllowedTopics("docs-queue"),
		queue.MaxBodyBytes(4096), queue.Secret(config.Secret("sixteen bytes at least")), queue.AdvertisedURL("http://127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(q)
	defer func() { srv.Close(); q.Close() }()

	const recv, ackRoute = "/kafka/queues/{group}/receive", "/kafka/queues/{group}/ack"
	do := func(route, method, path, contentType, body string) []byte {
		t.Helper()
		req, _ := http.NewRequestWithContext(context.Background(), method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer tok")
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := httpapi.CheckAnswer(route, method, resp, b); err != nil {
			t.Error(err)
		}
		return b
	}
	var got struct{ Records []struct{ Receipt string } }
	deadline := time.Now().Add(30 * time.Second)
	for len(got.Records) < 2 && time.Now().Before(deadline) {
		var more struct{ Records []struct{ Receipt string } }
		_ = json.Unmarshal(do(recv, "POST", "/kafka/queues/docs/receive", "application/json", `{"topics":["docs-queue"],"max":2,"wait_ms":500}`), &more)
		got.Records = append(got.Records, more.Records...)
	}
	if len(got.Records) < 2 {
		t.Fatalf("received %d records, want 2", len(got.Records))
	}
	one := func(receipt, outcome string) string {
		return `{"acks":[{"receipt":"` + receipt + `","outcome":"` + outcome + `"}]}`
	}
	do(recv, "POST", "/kafka/queues/docs/receive", "application/json", `{"topics":["secret"]}`)
	do(recv, "POST", "/kafka/queues/docs/receive", "application/json", `{"topics":["docs-queue"],"max":0}`)
	do(recv, "POST", "/kafka/queues/docs/receive", "text/plain", `{}`)
	do(recv, "POST", "/kafka/queues/docs/receive", "application/json", `{"topics":["`+strings.Repeat("x", 5000)+`"]}`)
	do(recv, "GET", "/kafka/queues/docs/receive", "", "")
	do(ackRoute, "POST", "/kafka/queues/docs/ack", "application/json", one(got.Records[0].Receipt, "renew"))
	do(ackRoute, "POST", "/kafka/queues/docs/ack", "application/json", one(got.Records[0].Receipt, "accept"))
	do(ackRoute, "POST", "/kafka/queues/docs/ack", "application/json", one(got.Records[0].Receipt, "accept"))
	do(ackRoute, "POST", "/kafka/queues/docs/ack", "application/json", one(got.Records[0].Receipt, "maybe"))
	do(ackRoute, "POST", "/kafka/queues/other/ack", "application/json", one(got.Records[0].Receipt, "accept"))
	do(ackRoute, "POST", "/kafka/queues/docs/ack", "application/json", `{"acks":[{"receipt":"`+got.Records[0].Receipt+`","outcome":"accept"},{"receipt":"`+got.Records[1].Receipt+`","outcome":"release"}]}`)
}
