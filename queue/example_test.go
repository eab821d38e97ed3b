package queue_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/queue"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func Example() {
	c, err := kafkatest.Start(kafkatest.Topic("jobs", 1))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	ctx := context.Background()
	opts, _ := c.Config().Opts()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		panic(err)
	}
	defer cl.Close()
	// A new share group starts at the end of its topics unless told
	// otherwise.
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeGroupConfig, "workers"
	rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	rc.Name, rc.Op, rc.Value = "share.auto.offset.reset", kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("earliest")
	res.Configs = append(res.Configs, rc)
	req.Resources = append(req.Resources, res)
	if _, err := req.RequestWith(ctx, cl); err != nil {
		panic(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "jobs", Value: []byte(`{"job":1}`)}).FirstErr(); err != nil {
		panic(err)
	}

	h, err := queue.New(c.Config(), cl)
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(h)
	defer func() { srv.Close(); h.Close() }()

	var got struct {
		Records []struct {
			Value         json.RawMessage `json:"value"`
			DeliveryCount int             `json:"delivery_count"`
			Receipt       string          `json:"receipt"`
		}
	}
	for deadline := time.Now().Add(30 * time.Second); len(got.Records) == 0 && time.Now().Before(deadline); {
		call(srv.URL+"/kafka/queues/workers/receive", `{"topics":["jobs"],"max":10,"wait_ms":1000}`, &got)
	}
	rec := got.Records[0]
	fmt.Println(string(rec.Value), rec.DeliveryCount)

	var acked struct{ Results []struct{ OK bool } }
	call(srv.URL+"/kafka/queues/workers/ack", `{"acks":[{"receipt":"`+rec.Receipt+`","outcome":"accept"}]}`, &acked)
	fmt.Println(acked.Results[0].OK)
	// Output:
	// {"job":1} 1
	// true
}

func call(url, body string, v any) {
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		panic(err)
	}
}
