package service

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/internal/env"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// webhookCall is what the receiver saw of one call.
type webhookCall struct {
	header http.Header
	body   []byte
}

// TestWebhookSettings runs serve with every KAFKA_WEBHOOK_* setting and
// checks, at a real receiver, that each one took effect: calls signed as
// Standard Webhooks says (checked by an independent verifier), the extra
// header sent, CloudEvents binary mode, and that neither the header's
// value nor the secret is ever logged.
func TestWebhookSettings(t *testing.T) {
	kafkatest.Parallel(t)
	const (
		secretKey = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		token     = "Bearer hook-token-never-logged"
	)
	var mu sync.Mutex
	var calls []webhookCall
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		calls = append(calls, webhookCall{r.Header.Clone(), body})
		mu.Unlock()
	}))
	defer srv.Close()

	c := kafkatest.NewCluster(t, kafkatest.Topic("hooked", 1))
	c.Produce(t, &kgo.Record{Topic: "hooked", Key: []byte("k1"), Value: []byte(`{"n":1}`),
		Headers: []kgo.RecordHeader{{Key: "content-type", Value: []byte("application/json")}}})
	_, stop, sink := startService(t, c, map[string]string{
		"KAFKA_CONSUMER_TOPICS":         "hooked",
		"KAFKA_CONSUMER_FROM_BEGINNING": "true",
		"KAFKA_HANDLER":                 "webhook",
		"KAFKA_WEBHOOK_URL":             srv.URL,
		"KAFKA_WEBHOOK_TIMEOUT":         "5000",
		"KAFKA_WEBHOOK_HEADERS":         "Authorization: " + token + "\nX-Tenant: blue",
		"KAFKA_WEBHOOK_FORMAT":          "cloudevents",
		"KAFKA_WEBHOOK_SECRET":          "whsec_" + secretKey,
	})
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(calls) == 0 {
			return fmt.Errorf("no call yet")
		}
		return nil
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	call := calls[0]
	mu.Unlock()
	h := call.header
	for name, want := range map[string]string{
		"Authorization":  token,
		"X-Tenant":       "blue",
		"Ce-Specversion": "1.0",
		"Ce-Source":      "kafka://hooked",
		"Content-Type":   "application/json",
		"Kafkakit-Topic": "hooked",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	if string(call.body) != `{"n":1}` {
		t.Errorf("body %q, want the record's value", call.body)
	}
	// The verifier, from the Standard Webhooks text: HMAC-SHA256 keyed
	// with the base64-decoded secret over "id.timestamp.body", base64,
	// after "v1,".
	key, _ := base64.StdEncoding.DecodeString(secretKey)
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", h.Get("Webhook-Id"), h.Get("Webhook-Timestamp"), call.body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if got := h.Get("Webhook-Signature"); got != want || h.Get("Webhook-Id") == "" {
		t.Errorf("webhook-signature %q (id %q), want %q", got, h.Get("Webhook-Id"), want)
	}

	sink.mu.Lock()
	defer sink.mu.Unlock()
	for _, l := range sink.lines {
		if line := fmt.Sprint(l); strings.Contains(line, "never-logged") || strings.Contains(line, secretKey) {
			t.Errorf("a log line shows a webhook secret: %s", line)
		}
	}
}

// TestWebhookSettingsBadValues: each bad KAFKA_WEBHOOK_* value stops
// start-up naming the variable, and never repeats a secret.
func TestWebhookSettingsBadValues(t *testing.T) {
	kafkatest.Parallel(t)
	base := map[string]string{"KAFKA_HANDLER": "webhook", "KAFKA_WEBHOOK_URL": "http://127.0.0.1:1/hook"}
	for _, tt := range []struct {
		name, value, want string
	}{
		{"KAFKA_WEBHOOK_TIMEOUT", "soon", `KAFKA_WEBHOOK_TIMEOUT: "soon" is not a whole number of milliseconds`},
		{"KAFKA_WEBHOOK_TIMEOUT", "0", `KAFKA_WEBHOOK_TIMEOUT: "0" must be a positive`},
		{"KAFKA_WEBHOOK_HEADERS", "Authorization Bearer hidden-value", `KAFKA_WEBHOOK_HEADERS header entry 1 has no ':'`},
		{"KAFKA_WEBHOOK_HEADERS", "Content-Type: text/plain", `KAFKA_WEBHOOK_HEADERS header entry 1 (Content-Type): the webhook sets this header itself`},
		{"KAFKA_WEBHOOK_FORMAT", "xml", `KAFKA_WEBHOOK_FORMAT: "xml" must be one of kafkakit, cloudevents`},
		{"KAFKA_WEBHOOK_SECRET", "hidden-value", `KAFKA_WEBHOOK_SECRET the signing secret does not start with whsec_`},
		{"KAFKA_WEBHOOK_SECRET", "whsec_hidden-value!", `KAFKA_WEBHOOK_SECRET the signing secret after whsec_ is not standard base64`},
	} {
		m := map[string]string{tt.name: tt.value}
		for k, v := range base {
			m[k] = v
		}
		_, err := FromEnv(env.Map(m))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s=%q: got %v, want %s", tt.name, tt.value, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), "hidden-value") {
			t.Errorf("%s: error %q shows the secret", tt.name, err)
		}
	}
}

// TestCloudEventRoundTrip: a structured-mode event sent to /kafka/send
// comes out of the webhook in binary mode with identical attributes and
// data: the Kafka protocol binding in, the HTTP binding out.
func TestCloudEventRoundTrip(t *testing.T) {
	kafkatest.Parallel(t)
	calls := make(chan webhookCall, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		calls <- webhookCall{r.Header.Clone(), body}
	}))
	defer srv.Close()
	c := kafkatest.NewCluster(t, kafkatest.Topic("events", 1))
	url, stop, _ := startService(t, c, map[string]string{
		"KAFKA_CONSUMER_TOPICS":         "events",
		"KAFKA_CONSUMER_FROM_BEGINNING": "true",
		"KAFKA_HANDLER":                 "webhook",
		"KAFKA_WEBHOOK_URL":             srv.URL,
		"KAFKA_WEBHOOK_FORMAT":          "cloudevents",
	})
	defer stop()

	event := `{"specversion":"1.0","id":"evt-42","source":"/shop/orders","type":"com.example.order.created",
		"subject":"order-7","time":"2026-11-27T10:00:00.123Z","datacontenttype":"application/json",
		"partitionkey":"customer-9","tenant":"blue","data":{"total":12.5}}`
	status, body := post(t, url, "/kafka/send?topic=events", event, "Content-Type", "application/cloudevents+json")
	if status != http.StatusOK {
		t.Fatalf("send: %d %s", status, body)
	}
	var call webhookCall
	select {
	case call = <-calls:
	case <-time.After(30 * time.Second):
		t.Fatal("the event never reached the webhook")
	}
	for name, want := range map[string]string{
		"Ce-Specversion":  "1.0",
		"Ce-Id":           "evt-42",
		"Ce-Source":       "/shop/orders",
		"Ce-Type":         "com.example.order.created",
		"Ce-Subject":      "order-7",
		"Ce-Time":         "2026-11-27T10:00:00.123Z",
		"Ce-Partitionkey": "customer-9",
		"Ce-Tenant":       "blue",
		"Content-Type":    "application/json",
	} {
		if got := call.header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if string(call.body) != `{"total":12.5}` {
		t.Errorf("data %q, want {\"total\":12.5}", call.body)
	}
}
