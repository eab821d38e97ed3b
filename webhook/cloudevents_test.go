package webhook_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/webhook"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCloudEvents: in cloudevents format a plain record becomes an event
// from kafka://<topic>, and a record written in the Kafka binding's binary
// mode keeps its attributes; both are signed over the record's value.
func TestCloudEvents(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("events", 1))
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	ts := time.Date(2026, 12, 1, 9, 30, 0, 250e6, time.UTC)
	c.Produce(t,
		&kgo.Record{Topic: "events", Key: []byte("order-7"), Value: []byte(`{"total":12.5}`), Timestamp: ts,
			Headers: []kgo.RecordHeader{{Key: "content-type", Value: []byte("application/json")}, {Key: "tag", Value: []byte("a")}}},
		&kgo.Record{Topic: "events", Key: []byte("cust-1"), Value: []byte("<order/>"), Timestamp: ts,
			Headers: []kgo.RecordHeader{
				{Key: "ce_specversion", Value: []byte("1.0")},
				{Key: "ce_id", Value: []byte("evt-42")},
				{Key: "ce_source", Value: []byte("/shop/orders")},
				{Key: "ce_type", Value: []byte("com.example.order.placed")},
				{Key: "ce_time", Value: []byte("2026-11-30T08:00:00Z")},
				{Key: "ce_subject", Value: []byte("order 7 \"big\" 100%")},
				{Key: "ce_tenant", Value: []byte("acme")},
				{Key: "ce_Bad-Name", Value: []byte("x")},
				{Key: "content-type", Value: []byte("application/xml")},
			}},
		&kgo.Record{Topic: "events", Value: []byte{0xff, 0x00}, Timestamp: ts},
	)
	secret, err := webhook.ParseSecret(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	run(t, c, "events", webhook.New(srv.URL, webhook.As(webhook.FormatCloudEvents), webhook.Sign(secret), webhook.Group("g")))
	calls := rc.waitCalls(t, 3)

	plain := calls[0].header
	want := http.Header{
		"Ce-Specversion":  {"1.0"},
		"Ce-Id":           {plain.Get("webhook-id")},
		"Ce-Source":       {"kafka://events"},
		"Ce-Type":         {"kafkakit.record"},
		"Ce-Time":         {"2026-12-01T09:30:00.250Z"},
		"Ce-Partitionkey": {"order-7"},
		"Content-Type":    {"application/json"},
	}
	checkEvent(t, "plain record", calls[0], want, `{"total":12.5}`)

	want = http.Header{
		"Ce-Specversion":  {"1.0"},
		"Ce-Id":           {"evt-42"},
		"Ce-Source":       {"/shop/orders"},
		"Ce-Type":         {"com.example.order.placed"},
		"Ce-Time":         {"2026-11-30T08:00:00Z"},
		"Ce-Subject":      {"order%207%20%22big%22%20100%25"},
		"Ce-Tenant":       {"acme"},
		"Ce-Partitionkey": {"cust-1"},
		"Content-Type":    {"application/xml"},
	}
	checkEvent(t, "binding record", calls[1], want, "<order/>")

	want = http.Header{
		"Ce-Specversion": {"1.0"},
		"Ce-Id":          {calls[2].header.Get("webhook-id")},
		"Ce-Source":      {"kafka://events"},
		"Ce-Type":        {"kafkakit.record"},
		"Ce-Time":        {"2026-12-01T09:30:00.250Z"},
	}
	checkEvent(t, "binary record without key", calls[2], want, "\xff\x00")
}

// checkEvent compares every ce-* header and Content-Type of a call with
// want, its body with body, and verifies its signature.
func checkEvent(t *testing.T, name string, c call, want http.Header, body string) {
	t.Helper()
	for k, v := range c.header {
		if len(k) > 3 && k[:3] == "Ce-" || k == "Content-Type" {
			if _, ok := want[k]; !ok {
				t.Errorf("%s: unexpected header %s: %q", name, k, v)
			}
		}
	}
	for k, v := range want {
		if got := c.header.Values(k); len(got) != 1 || got[0] != v[0] {
			t.Errorf("%s: %s %q, want %q", name, k, got, v)
		}
	}
	if string(c.body) != body {
		t.Errorf("%s: body %q, want %q", name, c.body, body)
	}
	if err := verify(vectorSecret, c.header, c.body, time.Now()); err != nil {
		t.Errorf("%s: %v", name, err)
	}
	if c.header.Get("kafkakit-topic") != "events" || c.header.Get("kafkakit-attempt") != "1" {
		t.Errorf("%s: metadata headers %v", name, c.header)
	}
}

func TestParseFormat(t *testing.T) {
	kafkatest.Parallel(t)
	for _, tt := range []struct {
		in   string
		want webhook.Format
		ok   bool
	}{{"kafkakit", webhook.FormatKafkakit, true}, {"CloudEvents", webhook.FormatCloudEvents, true}, {"json", "", false}} {
		got, err := webhook.ParseFormat(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("%q: got %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
