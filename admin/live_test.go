package admin_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/metrics"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/prometheus/client_golang/prometheus"
)

// sse reads server-sent events from one /kafka/live connection.
type sse struct {
	t    *testing.T
	resp *http.Response
	sc   *bufio.Scanner
}

func openLive(t *testing.T, ctx context.Context, url, lastID string) *sse {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/kafka/live", nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /kafka/live: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return &sse{t: t, resp: resp, sc: bufio.NewScanner(resp.Body)}
}

// next returns the next event's id and data.
func (s *sse) next() (int64, admin.LiveEvent) {
	s.t.Helper()
	var id int64 = -1
	var ev admin.LiveEvent
	for s.sc.Scan() {
		line := s.sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			id, _ = strconv.ParseInt(line[4:], 10, 64)
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(line[6:]), &ev); err != nil {
				s.t.Fatalf("event data %s: %v", line, err)
			}
		case line == "" && id >= 0:
			return id, ev
		}
	}
	s.t.Fatalf("the stream ended: %v", s.sc.Err())
	return 0, ev
}

func TestLiveStreamsFiguresAndResumes(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1), kafkatest.Topic("hidden", 1))
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := producer.New(c.Config(), producer.Observe(m))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cons, err := consumer.New(c.Config(), consumer.Group("billing"), consumer.Observe(m))
	if err != nil {
		t.Fatal(err)
	}
	if err := cons.Subscribe("orders", true, consumer.HandlerFunc(func(context.Context, *consumer.Message) error { return nil })); err != nil {
		t.Fatal(err)
	}
	m.WatchConsumer(cons)
	runCtx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- cons.Run(runCtx) }()
	defer func() { stop(); <-done; cons.Close() }()

	srv := serve(t, c, admin.Metrics(reg), admin.AllowedTopics("orders"))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s := openLive(t, ctx, srv.URL, "")

	// Each event is answered with a send and a request, so the next
	// event's second holds them; 20 events at most.
	var last int64
	var ids []int64
	var produced, consumed float64
	var http202 int64
	lagSeen := false
	for i := 0; i < 20 && (produced == 0 || consumed == 0 || http202 == 0 || !lagSeen || len(ids) < 2); i++ {
		id, ev := s.next()
		if id <= last || ev.ID != id {
			t.Fatalf("event id %d (data id %d) after %d: ids must increase", id, ev.ID, last)
		}
		last = id
		ids = append(ids, id)
		if _, err := p.Send(ctx, producer.Message{Topic: "orders", Value: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		m.ObserveHTTP("/kafka/send", "POST", 202, time.Millisecond)
		produced, consumed, http202 = max(produced, ev.Produced["orders"]), max(consumed, ev.Consumed["orders"]), max(http202, ev.HTTP["202"])
		_, ok := ev.Lag["billing"]
		lagSeen = lagSeen || ok
		if _, ok := ev.Produced["hidden"]; ok {
			t.Errorf("event %d shows a topic outside the allowlist", id)
		}
	}
	if produced == 0 || consumed == 0 || http202 == 0 || !lagSeen {
		t.Fatalf("in %d events: produced %v/s, consumed %v/s, %d HTTP 202, lag of billing seen %v; want all", len(ids), produced, consumed, http202, lagSeen)
	}
	s.resp.Body.Close()

	// Reconnecting with the id of the first event gets the kept events
	// after it, then new ones.
	r := openLive(t, ctx, srv.URL, strconv.FormatInt(ids[0], 10))
	for _, want := range ids[1:] {
		if id, _ := r.next(); id != want {
			t.Fatalf("after reconnecting: id %d, want %d", id, want)
		}
	}
	if id, _ := r.next(); id <= last {
		t.Fatalf("after the kept events: id %d, want above %d", id, last)
	}
}

func TestLiveBadInput(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1))
	var e struct{ Error struct{ Code, Field string } }
	if code := get(t, serve(t, c), "/kafka/live", "", &e); code != 404 {
		t.Errorf("without a registry: got %d %+v, want 404", code, e)
	}
	srv := serve(t, c, admin.Metrics(prometheus.NewRegistry()), admin.AuthToken("s3cret"))
	if code := get(t, srv, "/kafka/live", "", &e); code != 401 {
		t.Errorf("without the token: got %d, want 401", code)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/kafka/live", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	req.Header.Set("Last-Event-ID", "soon")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || resp.StatusCode != 400 || e.Error.Field != "Last-Event-ID" {
		t.Errorf("bad Last-Event-ID: got %d %+v %v, want 400 naming Last-Event-ID", resp.StatusCode, e, err)
	}
}
