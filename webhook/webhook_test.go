package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/webhook"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestBodyEncodings(t *testing.T) {
	ts := time.Date(2026, 11, 27, 10, 0, 0, 123e6, time.UTC)
	tests := []struct {
		name      string
		value     []byte
		wantValue string
		wantEnc   string
	}{
		{"object", []byte(`{"a": 1}`), `{"a":1}`, "json"},
		{"number", []byte(`42`), `42`, "json"},
		{"json string", []byte(`"hi"`), `"hi"`, "json"},
		{"text", []byte(`hello world`), `"hello world"`, "string"},
		{"binary", []byte{0xff, 0x00, 0xfe}, `"/wD+"`, "base64"},
		{"null", nil, `null`, ""},
		{"empty", []byte{}, `""`, "string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := &consumer.Message{Topic: "t", Partition: 1, Offset: 7, Key: []byte("k"), Value: tt.value, Timestamp: ts,
				Headers: []consumer.Header{{Key: "h", Value: []byte("v")}, {Key: "bin", Value: []byte{0xff}}}}
			raw, err := json.Marshal(webhook.NewBody(msg))
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]json.RawMessage
			json.Unmarshal(raw, &got)
			if string(got["value"]) != tt.wantValue {
				t.Errorf("value %s, want %s", got["value"], tt.wantValue)
			}
			var enc string
			json.Unmarshal(got["value_encoding"], &enc)
			if enc != tt.wantEnc {
				t.Errorf("value_encoding %q, want %q", enc, tt.wantEnc)
			}
			for field, want := range map[string]string{
				"topic": `"t"`, "partition": `1`, "offset": `7`, "timestamp": `"2026-11-27T10:00:00.123Z"`,
				"key": `"k"`, "headers": `{"h":"v"}`, "binary_headers": `{"bin":"/w=="}`,
			} {
				if string(got[field]) != want {
					t.Errorf("%s = %s, want %s", field, got[field], want)
				}
			}
		})
	}
	nullKey, _ := json.Marshal(webhook.NewBody(&consumer.Message{Key: nil}))
	if !strings.Contains(string(nullKey), `"key":null`) {
		t.Errorf("null key: %s", nullKey)
	}
}

// endpoint is a test webhook answering with the statuses queued in it.
type endpoint struct {
	mu       sync.Mutex
	statuses []int
	bodies   []map[string]any
	header   http.Header
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	raw, _ := io.ReadAll(r.Body)
	json.Unmarshal(raw, &body)
	e.mu.Lock()
	e.bodies = append(e.bodies, body)
	e.header = r.Header.Clone()
	status := http.StatusOK
	if len(e.statuses) > 0 {
		status, e.statuses = e.statuses[0], e.statuses[1:]
	}
	e.mu.Unlock()
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(status)
}

func TestHandleStatuses(t *testing.T) {
	tests := []struct {
		status        int
		wantErr       bool
		wantPermanent bool
		wantWait      time.Duration
	}{
		{200, false, false, 0},
		{204, false, false, 0},
		{500, true, false, 0},
		{503, true, false, 0},
		{429, true, false, time.Second},
		{408, true, false, 0},
		{400, true, true, 0},
		{404, true, true, 0},
		{422, true, true, 0},
	}
	for _, tt := range tests {
		e := &endpoint{statuses: []int{tt.status}}
		srv := httptest.NewServer(e)
		h := webhook.New(srv.URL, webhook.Header("Authorization", "Bearer x"))
		err := h.Handle(context.Background(), &consumer.Message{Topic: "t", Value: []byte("v")})
		srv.Close()
		if (err != nil) != tt.wantErr || consumer.IsPermanent(err) != tt.wantPermanent {
			t.Errorf("status %d: got %v (permanent %v)", tt.status, err, consumer.IsPermanent(err))
		}
		var ra consumer.RetryAfterError
		if tt.wantWait > 0 && (!errors.As(err, &ra) || ra.RetryAfter() != tt.wantWait) {
			t.Errorf("status %d: got %v, want Retry-After %v", tt.status, err, tt.wantWait)
		}
		if e.header.Get("Content-Type") != "application/json" || e.header.Get("Authorization") != "Bearer x" {
			t.Errorf("status %d: request headers %v", tt.status, e.header)
		}
	}
}

func TestHandleConnectionTrouble(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	err = webhook.New("http://"+addr).Handle(context.Background(), &consumer.Message{})
	if err == nil || consumer.IsPermanent(err) {
		t.Errorf("refused connection: got %v, want a retryable error", err)
	}

	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer slow.Close()
	defer close(release)
	h := webhook.New(slow.URL, webhook.Client(&http.Client{Timeout: 100 * time.Millisecond}))
	if err := h.Handle(context.Background(), &consumer.Message{}); err == nil || consumer.IsPermanent(err) {
		t.Errorf("timeout: got %v, want a retryable error", err)
	}
}

// TestWebhookThroughConsumer: retryable failures are retried, a 4xx goes
// to the dead-letter topic, and everything else arrives.
func TestWebhookThroughConsumer(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("hooks", 1))
	e := &endpoint{statuses: []int{500, 429, 200, 400}}
	srv := httptest.NewServer(e)
	defer srv.Close()
	c.Produce(t, &kgo.Record{Topic: "hooks", Value: []byte(`{"n":1}`)}, &kgo.Record{Topic: "hooks", Value: []byte("bad")})

	cs, err := consumer.New(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.Subscribe("hooks", true, webhook.New(srv.URL)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cs.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		cs.Close()
	}()
	dead := c.ReadAll(t, "hooks.dlq", 1, 60*time.Second)
	if string(dead[0].Value) != "bad" {
		t.Errorf("dead letter %q, want bad", dead[0].Value)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.bodies) != 4 {
		t.Fatalf("webhook called %d times, want 4 (500, 429, 200 for the first message; 400 for the second)", len(e.bodies))
	}
	if e.bodies[2]["value_encoding"] != "json" || e.bodies[3]["value"] != "bad" {
		t.Errorf("bodies: %v", e.bodies)
	}
}
