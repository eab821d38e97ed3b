package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/webhook"
	"github.com/twmb/franz-go/pkg/kgo"
)

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
	if status >= 300 && status < 400 {
		w.Header().Set("Location", "/moved")
	}
	w.WriteHeader(status)
}

func TestHandleStatuses(t *testing.T) {
	kafkatest.Parallel(t)
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
		{301, true, false, 0},
		{302, true, false, 0},
		{303, true, false, 0},
		{304, true, false, 0},
		{307, true, false, 0},
		{308, true, false, 0},
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
		if tt.status >= 300 && tt.status < 400 {
			if len(e.bodies) != 1 || !strings.Contains(err.Error(), "Location: /moved") {
				t.Errorf("status %d: %d requests, error %v; want 1 request and the Location", tt.status, len(e.bodies), err)
			}
		}
	}
}

// TestOwnClientDoesNotRedirect: a client given with Client follows no
// redirect either, and is itself left as it was.
func TestOwnClientDoesNotRedirect(t *testing.T) {
	kafkatest.Parallel(t)
	e := &endpoint{statuses: []int{http.StatusTemporaryRedirect}}
	srv := httptest.NewServer(e)
	defer srv.Close()
	own := &http.Client{Timeout: 5 * time.Second}
	err := webhook.New(srv.URL, webhook.Client(own)).Handle(context.Background(), &consumer.Message{})
	if err == nil || consumer.IsPermanent(err) || len(e.bodies) != 1 {
		t.Errorf("got %v after %d requests, want a retryable error after 1", err, len(e.bodies))
	}
	if own.CheckRedirect != nil {
		t.Error("the caller's client was changed")
	}
}

// TestErrorTextIsUTF8: what an endpoint answers ends up in logs and in a
// dead letter's headers, cut short and as valid UTF-8.
func TestErrorTextIsUTF8(t *testing.T) {
	kafkatest.Parallel(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/"+strings.Repeat("l", 2000))
		w.WriteHeader(http.StatusFound)
		w.Write([]byte("x" + strings.Repeat("é", 2000) + "\xff"))
	}))
	defer srv.Close()
	err := webhook.New(srv.URL).Handle(context.Background(), &consumer.Message{})
	var se *webhook.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want a *StatusError", err)
	}
	if !utf8.ValidString(err.Error()) || len(se.Body) > 520 || len(se.Location) > 520 {
		t.Errorf("error text of %d bytes (body %d, Location %d), valid UTF-8 %v",
			len(err.Error()), len(se.Body), len(se.Location), utf8.ValidString(err.Error()))
	}
}

func TestHandleConnectionTrouble(t *testing.T) {
	kafkatest.Parallel(t)
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
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("hooks", 1))
	e := &endpoint{statuses: []int{500, 429, 200, 400}}
	srv := httptest.NewServer(e)
	defer srv.Close()
	c.Produce(t, &kgo.Record{Topic: "hooks", Value: []byte(`{"n":1}`)}, &kgo.Record{Topic: "hooks", Value: []byte("bad")})

	run(t, c, "hooks", webhook.New(srv.URL))
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

// run consumes topic from the beginning with h until the test ends.
func run(t *testing.T, c *kafkatest.Cluster, topic string, h consumer.Handler, opts ...consumer.SubscribeOption) {
	t.Helper()
	cs, err := consumer.New(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.Subscribe(topic, true, h, opts...); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cs.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		cs.Close()
	})
}

// TestRedirectIsNotDelivery: a webhook that answers 302 has not received
// the message. Following the redirect would turn the POST into a GET
// without a body whose 200 acknowledges a message nobody got; instead the
// 3xx is retried and then dead-lettered with the Location in its
// exception message.
func TestRedirectIsNotDelivery(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("moved", 1))
	var mu sync.Mutex
	var posts, moved int
	mux := http.NewServeMux()
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		posts++
		mu.Unlock()
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		moved++
		mu.Unlock()
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c.Produce(t, &kgo.Record{Topic: "moved", Value: []byte(`{"n":1}`)})

	run(t, c, "moved", webhook.New(srv.URL+"/hook"), consumer.Retries(1), consumer.Backoff(time.Millisecond, 5*time.Millisecond))
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if moved > 0 {
			return nil // fails below
		}
		if posts < 2 {
			return fmt.Errorf("%d POSTs, want 2", posts)
		}
		return nil
	})
	mu.Lock()
	if moved > 0 {
		t.Fatalf("the redirect was followed %d times: the message counts as delivered", moved)
	}
	mu.Unlock()
	dead := c.ReadAll(t, "moved.dlq", 1, 30*time.Second)
	msg, _ := (&consumer.Message{Headers: dead[0].Headers}).Header(consumer.HeaderExceptionMessage)
	if !strings.Contains(string(msg), "302") || !strings.Contains(string(msg), "Location: /elsewhere") {
		t.Errorf("exception message %q, want the status and the Location", msg)
	}
	mu.Lock()
	defer mu.Unlock()
	if posts != 2 || moved != 0 {
		t.Errorf("%d POSTs and %d requests to the target, want 2 and 0", posts, moved)
	}
}

// TestConcurrentPrepare: Prepare hooks of concurrent deliveries change
// their own request's headers only.
func TestConcurrentPrepare(t *testing.T) {
	kafkatest.Parallel(t)
	var mu sync.Mutex
	got := map[string][]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Header.Get("X-Id")] = r.Header.Values("X-Tag")
		mu.Unlock()
	}))
	defer srv.Close()
	h := webhook.New(srv.URL,
		webhook.Header("X-Tag", "a"), webhook.Header("X-Tag", "b"), webhook.Header("X-Tag", "c"),
		webhook.Prepare(func(r *http.Request) {
			id := r.Context().Value(idKey{}).(string)
			r.Header.Set("X-Id", id)
			r.Header.Add("X-Tag", id)
		}))
	const n = 32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ctx := context.WithValue(context.Background(), idKey{}, strconv.Itoa(i))
			if err := h.Handle(ctx, &consumer.Message{Topic: "t"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := range n {
		id := strconv.Itoa(i)
		if want := []string{"a", "b", "c", id}; !slices.Equal(got[id], want) {
			t.Errorf("request %s: X-Tag %q, want %q", id, got[id], want)
		}
	}
}

type idKey struct{}
