package service

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/tracing"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// value returns the value of the series of family name whose labels
// include want, or -1 if there is none.
func value(mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	mf := mfs[name]
	if mf == nil {
		return -1
	}
series:
	for _, m := range mf.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

func post(t *testing.T, url, path, body string, headers ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMetricsAfterKnownWorkload: N sent, M failed, K dead-lettered and a
// consumer held back by L messages show up as exactly those numbers.
func TestMetricsAfterKnownWorkload(t *testing.T) {
	kafkatest.Parallel(t)
	const n, m, k, l = 25, 3, 2, 5
	c := kafkatest.NewCluster(t, kafkatest.Topic("sent", 2), kafkatest.Topic("denied", 1), kafkatest.Topic("work", 1), kafkatest.Topic("work.dlq", 1))
	c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "denied", Err: kerr.TopicAuthorizationFailed, Count: -1})

	release := make(chan struct{})
	hook := httptest.NewServer(workloadHook(release))
	defer hook.Close()
	defer close(release)

	url, _, _ := startService(t, c, map[string]string{
		"KAFKA_CONSUMER_TOPICS":         "work",
		"KAFKA_CONSUMER_FROM_BEGINNING": "true",
		"KAFKA_HANDLER":                 "webhook",
		"KAFKA_WEBHOOK_URL":             hook.URL,
		"KAFKA_SHUTDOWN_TIMEOUT":        "1000",
	})
	for i := range n {
		if status, body := post(t, url, "/kafka/send", fmt.Sprintf(`{"topic":"sent","key":"k%d","value":%d}`, i, i)); status != 200 {
			t.Fatalf("send %d: %d %s", i, status, body)
		}
	}
	for range m {
		if status, _ := post(t, url, "/kafka/send", `{"topic":"denied","value":"x"}`); status != 403 {
			t.Fatalf("send to denied topic: %d", status)
		}
	}
	c.Produce(t, workRecords(k, l)...)

	var mfs map[string]*dto.MetricFamily
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		mfs = scrape(t, url)
		if got := value(mfs, "kafkakit_consumer_lag", map[string]string{"topic": "work", "partition": "0"}); got != l {
			return fmt.Errorf("lag %v, want %d", got, l)
		}
		return nil
	})
	for _, tt := range workloadSeries(n, m, k, l) {
		if got := value(mfs, tt.name, tt.labels); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	// franz-go's own client metrics, per client role.
	if got := value(mfs, "kafkakit_produce_records_total", map[string]string{"role": "producer"}); got != n {
		t.Errorf("kafkakit_produce_records_total{role=producer} = %v, want %d; have %v", got, n, familiesWithPrefix(mfs, "kafkakit_"))
	}
	if got := value(mfs, "kafkakit_fetch_records_total", map[string]string{"role": "consumer"}); got != k+3+l {
		t.Errorf("kafkakit_fetch_records_total{role=consumer} = %v, want %d", got, k+3+l)
	}
	checkConsumersRoute(t, url, k, l)
	checkKeysAddNoSeries(t, url)
}

// workloadHook is the webhook of TestMetricsAfterKnownWorkload: it refuses
// poison messages for good, so that they are dead-lettered at once, and
// holds the "hold" message until release is closed, so that the consumer
// stays behind by the messages after it.
func workloadHook(release <-chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Value string }
		json.NewDecoder(r.Body).Decode(&body)
		switch {
		case strings.HasPrefix(body.Value, "poison"):
			http.Error(w, "unprocessable", http.StatusUnprocessableEntity) // permanent: dead-lettered at once
		case body.Value == "hold":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	})
}

// workRecords is the consumer's topic: K poison messages, 3 good ones,
// then one that holds the partition, then L-1 behind it: L messages not
// handled.
func workRecords(k, l int) []*kgo.Record {
	var work []*kgo.Record
	for i := range k {
		work = append(work, &kgo.Record{Topic: "work", Value: []byte(fmt.Sprintf("poison-%d", i))})
	}
	for i := range 3 {
		work = append(work, &kgo.Record{Topic: "work", Value: []byte(fmt.Sprintf("good-%d", i))})
	}
	work = append(work, &kgo.Record{Topic: "work", Value: []byte("hold")})
	for i := range l - 1 {
		work = append(work, &kgo.Record{Topic: "work", Value: []byte(fmt.Sprintf("behind-%d", i))})
	}
	return work
}

// seriesWant is the value a series of family name with labels must have.
type seriesWant struct {
	name   string
	labels map[string]string
	want   float64
}

// workloadSeries is what the registry must show after n sends, m failed
// sends, k dead letters and a consumer held back by l messages.
func workloadSeries(n, m, k, l int) []seriesWant {
	return []seriesWant{
		{"kafkakit_messages_produced_total", map[string]string{"topic": "sent", "outcome": "ok"}, float64(n)},
		{"kafkakit_messages_produced_total", map[string]string{"topic": "denied", "outcome": "error"}, float64(m)},
		{"kafkakit_produce_latency_seconds", map[string]string{"topic": "sent"}, float64(n)},
		{"kafkakit_messages_handled_total", map[string]string{"topic": "work", "outcome": "dead_lettered"}, float64(k)},
		{"kafkakit_messages_handled_total", map[string]string{"topic": "work", "outcome": "ok"}, 3},
		{"kafkakit_handlers_in_flight", map[string]string{"topic": "work"}, 1},
		{"kafkakit_consumer_committed_offset", map[string]string{"topic": "work", "partition": "0"}, float64(k + 3)},
		{"kafkakit_consumer_high_watermark", map[string]string{"topic": "work", "partition": "0"}, float64(k + 3 + l)},
		{"kafkakit_consumer_ready", map[string]string{"group": "kafkakit-group"}, 1},
		{"kafkakit_http_requests_total", map[string]string{"route": "/kafka/send", "method": "POST", "status": "200"}, float64(n)},
		{"kafkakit_http_requests_total", map[string]string{"route": "/kafka/send", "method": "POST", "status": "403"}, float64(m)},
	}
}

// checkConsumersRoute checks that GET /kafka/consumers says what the
// metrics say of the workload's consumer: k+3 committed, l behind.
func checkConsumersRoute(t *testing.T, url string, k, l int64) {
	t.Helper()
	resp, err := http.Get(url + "/kafka/consumers")
	if err != nil {
		t.Fatal(err)
	}
	var status struct {
		Consumers []struct {
			Group         string
			Ready         bool
			Subscriptions []struct {
				Topic           string
				DeadLetterTopic string `json:"dead_letter_topic"`
				Partitions      []struct {
					Partition     int32
					Committed     int64
					HighWatermark int64 `json:"high_watermark"`
					Lag           int64
				}
			}
		}
	}
	json.NewDecoder(resp.Body).Decode(&status)
	resp.Body.Close()
	if len(status.Consumers) != 1 || !status.Consumers[0].Ready || len(status.Consumers[0].Subscriptions) != 1 {
		t.Fatalf("/kafka/consumers: %+v", status)
	}
	sub := status.Consumers[0].Subscriptions[0]
	if sub.Topic != "work" || sub.DeadLetterTopic != "work.dlq" || len(sub.Partitions) != 1 ||
		sub.Partitions[0].Committed != k+3 || sub.Partitions[0].HighWatermark != k+3+l || sub.Partitions[0].Lag != l {
		t.Errorf("/kafka/consumers subscription: %+v", sub)
	}
}

// checkKeysAddNoSeries sends 1,000 distinct keys and checks that they add
// no series. A first batch and scrape create the series of their own
// routes.
func checkKeysAddNoSeries(t *testing.T, url string) {
	t.Helper()
	if status, _ := post(t, url, "/kafka/send-batch", `{"messages":[{"topic":"sent","key":"warm-up"}]}`); status != 200 {
		t.Fatalf("warm-up batch: %d", status)
	}
	scrape(t, url)
	before := seriesCounts(scrape(t, url))
	var msgs []string
	for i := range 1000 {
		msgs = append(msgs, fmt.Sprintf(`{"topic":"sent","key":"key-%d","value":%d}`, i, i))
	}
	if status, body := post(t, url, "/kafka/send-batch", `{"messages":[`+strings.Join(msgs, ",")+`]}`); status != 200 {
		t.Fatalf("batch: %d %s", status, body)
	}
	after := seriesCounts(scrape(t, url))
	for name, n := range after {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			continue
		}
		if n != before[name] {
			t.Errorf("%s went from %d to %d series after 1,000 distinct keys", name, before[name], n)
		}
	}
}

func seriesCounts(mfs map[string]*dto.MetricFamily) map[string]int {
	out := map[string]int{}
	for name, mf := range mfs {
		out[name] = len(mf.Metric)
	}
	return out
}

func familiesWithPrefix(mfs map[string]*dto.MetricFamily, prefix string) []string {
	var names []string
	for name := range mfs {
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// TestOneTraceFromRequestToWebhook follows a request carrying a
// traceparent through produce, the broker and the consumer's handler to the
// webhook call: every span and the webhook's traceparent share its trace.
func TestOneTraceFromRequestToWebhook(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("traced", 1))
	recorder := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))
	defer tp.Shutdown(context.Background())
	tr := tracing.New(tp, propagation.TraceContext{})

	var mu sync.Mutex
	var webhookTraceparent string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		webhookTraceparent = r.Header.Get("traceparent")
		mu.Unlock()
	}))
	defer hook.Close()

	url, _, sink := startServiceWith(t, c, map[string]string{
		"KAFKA_CONSUMER_TOPICS":         "traced",
		"KAFKA_CONSUMER_FROM_BEGINNING": "true",
		"KAFKA_HANDLER":                 "webhook",
		"KAFKA_WEBHOOK_URL":             hook.URL,
	}, WithTracing(tr))
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	status, body := post(t, url, "/kafka/send", `{"topic":"traced","value":"follow me"}`,
		"traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	if status != 200 {
		t.Fatalf("send: %d %s", status, body)
	}
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if webhookTraceparent == "" {
			return fmt.Errorf("the webhook has not been called with a traceparent")
		}
		return nil
	})
	mu.Lock()
	if !strings.Contains(webhookTraceparent, traceID) {
		t.Errorf("webhook traceparent %q is not in trace %s", webhookTraceparent, traceID)
	}
	mu.Unlock()

	kafkatest.WaitFor(t, 10*time.Second, func() error {
		names := map[string]bool{}
		for _, s := range recorder.Ended() {
			if s.SpanContext().TraceID().String() == traceID {
				names[s.Name()] = true
			}
		}
		for _, want := range []string{"POST /kafka/send", "traced publish", "traced receive", "traced process"} {
			if !names[want] {
				return fmt.Errorf("span %q not in the trace; have %v", want, names)
			}
		}
		return nil
	})
	// The access log line carries the trace.
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for _, line := range sink.lines {
		if line["msg"] == "http request" && line["path"] == "/kafka/send" {
			if line["trace_id"] != traceID || line["span_id"] == nil {
				t.Errorf("access log line without the trace: %v", line)
			}
			return
		}
	}
	t.Error("no access log line for the send")
}
