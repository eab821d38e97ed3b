package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/kafkakit/kafkakit/idempotency"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func openStore(t testing.TB, c *kafkatest.Cluster, ttl time.Duration, opts ...idempotency.Option) *idempotency.Store {
	t.Helper()
	s, err := idempotency.Open(t.Context(), c.Config(), ttl, 20*time.Second, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

const sendBody = `{"topic":"orders","key":"k","value":"v"}`

func (a *api) postKey(t *testing.T, path, key, body string, headers ...string) *answer {
	t.Helper()
	return a.do(t, http.MethodPost, path, "application/json", body, append([]string{"Idempotency-Key", key}, headers...)...)
}

func TestIdempotencyReplaysAndRefusesOtherBody(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1))
	a := newAPI(t, c, httpapi.Idempotency(openStore(t, c, time.Hour)))
	first := a.postKey(t, "/kafka/send", `"k-1"`, sendBody)
	if first.status != http.StatusOK || first.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: status %d %v: %s", first.status, first.header, first.raw)
	}
	again := a.postKey(t, "/kafka/send", `"k-1"`, sendBody)
	if again.status != first.status || again.raw != first.raw || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("repeat: status %d, replayed %q, %s; want the first answer %s", again.status, again.header.Get("Idempotent-Replayed"), again.raw, first.raw)
	}
	other := a.postKey(t, "/kafka/send", `"k-1"`, `{"topic":"orders","value":"other"}`)
	if other.status != http.StatusUnprocessableEntity || other.errorField("code") != apicontract.CodeIdempotencyMismatch {
		t.Fatalf("other body: status %d: %s", other.status, other.raw)
	}
	batch := a.postKey(t, "/kafka/send-batch", "b-1", `{"messages":[`+sendBody+`,`+sendBody+`]}`)
	batchAgain := a.postKey(t, "/kafka/send-batch", "b-1", `{"messages":[`+sendBody+`,`+sendBody+`]}`)
	if batch.status != http.StatusOK || batchAgain.raw != batch.raw || batchAgain.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("batch repeat: %d %s then %d %s", batch.status, batch.raw, batchAgain.status, batchAgain.raw)
	}
	if bad := a.postKey(t, "/kafka/send", `"a\"b"`, sendBody); bad.status != http.StatusBadRequest {
		t.Errorf("bad key: status %d: %s", bad.status, bad.raw)
	}
	if n := totalRecords(t, c, "orders"); n != 3 {
		t.Fatalf("orders holds %d records, want 3 (one send, one batch of two)", n)
	}
}

func TestIdempotencyInFlightIs409(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1))
	a := newAPI(t, c, httpapi.Idempotency(openStore(t, c, time.Hour)))
	topics, err := kadm.NewClient(c.Client(t)).ListTopics(t.Context(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	ordersID := topics["orders"].ID
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	c.Fake().ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.Fake().KeepControl()
		for _, tp := range req.(*kmsg.ProduceRequest).Topics {
			if tp.Topic == "orders" || tp.TopicID == ordersID {
				once.Do(func() { close(held) })
				c.Fake().SleepControl(func() { <-release })
			}
		}
		return nil, nil, false
	})
	firstDone := make(chan *answer, 1)
	go func() { firstDone <- a.postKey(t, "/kafka/send", "slow", sendBody) }()
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("the first send never reached the broker")
	}
	if ans := a.postKey(t, "/kafka/send", "slow", sendBody); ans.status != http.StatusConflict || ans.errorField("code") != apicontract.CodeIdempotencyConflict {
		t.Errorf("repeat in flight: status %d: %s", ans.status, ans.raw)
	}
	close(release)
	first := <-firstDone
	if first.status != http.StatusOK {
		t.Fatalf("first: status %d: %s", first.status, first.raw)
	}
	if ans := a.postKey(t, "/kafka/send", "slow", sendBody); ans.raw != first.raw || ans.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("repeat after: status %d: %s", ans.status, ans.raw)
	}
	if n := totalRecords(t, c, "orders"); n != 1 {
		t.Fatalf("orders holds %d records, want 1", n)
	}
}

func TestIdempotencyScopedByCaller(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1))
	a := newAPI(t, c, httpapi.Idempotency(openStore(t, c, time.Hour)))
	for _, token := range []string{"Bearer alice", "Bearer bob"} {
		ans := a.postKey(t, "/kafka/send", "same", sendBody, "Authorization", token)
		if ans.status != http.StatusOK || ans.header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("%s: status %d replayed %q: %s", token, ans.status, ans.header.Get("Idempotent-Replayed"), ans.raw)
		}
	}
	if n := totalRecords(t, c, "orders"); n != 2 {
		t.Fatalf("orders holds %d records, want one per caller", n)
	}
}

func TestIdempotencyExpires(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1))
	a := newAPI(t, c, httpapi.Idempotency(openStore(t, c, 300*time.Millisecond)))
	if ans := a.postKey(t, "/kafka/send", "short", sendBody); ans.status != http.StatusOK {
		t.Fatalf("first: status %d: %s", ans.status, ans.raw)
	}
	kafkatest.WaitFor(t, 10*time.Second, func() error {
		ans := a.postKey(t, "/kafka/send", "short", sendBody)
		if ans.status != http.StatusOK || ans.header.Get("Idempotent-Replayed") == "true" {
			return fmt.Errorf("status %d, replayed %q: %s", ans.status, ans.header.Get("Idempotent-Replayed"), ans.raw)
		}
		return nil
	})
	if n := totalRecords(t, c, "orders"); n != 2 {
		t.Fatalf("orders holds %d records, want 2: one before, one after expiry", n)
	}
}

// An answer saying nothing was sent gives the key up: the retry it asks
// for is processed, not replayed.
func TestIdempotencyRetriesWhatWasNotSent(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1))
	store := openStore(t, c, time.Hour)
	closed, err := producer.New(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	srv := httptest.NewServer(httpapi.New(closed, httpapi.Idempotency(store)))
	t.Cleanup(srv.Close)
	down := (&api{cluster: c, url: srv.URL, client: srv.Client()}).postKey(t, "/kafka/send", "retry", sendBody)
	if down.status != http.StatusServiceUnavailable || down.errorField("code") != apicontract.CodeShuttingDown {
		t.Fatalf("closed producer: status %d: %s", down.status, down.raw)
	}
	again := newAPI(t, c, httpapi.Idempotency(store)).postKey(t, "/kafka/send", "retry", sendBody)
	if again.status != http.StatusOK || again.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("retry: status %d, replayed %q: %s", again.status, again.header.Get("Idempotent-Replayed"), again.raw)
	}
	if n := totalRecords(t, c, "orders"); n != 1 {
		t.Fatalf("orders holds %d records, want 1", n)
	}
}

func TestIdempotencyAcrossRestart(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1))
	old := openStore(t, c, time.Hour)
	first := newAPI(t, c, httpapi.Idempotency(old)).postKey(t, "/kafka/send", "restart", sendBody)
	if first.status != http.StatusOK {
		t.Fatalf("first: status %d: %s", first.status, first.raw)
	}
	old.Close()
	again := newAPI(t, c, httpapi.Idempotency(openStore(t, c, time.Hour))).postKey(t, "/kafka/send", "restart", sendBody)
	if again.raw != first.raw || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("after restart: status %d %s, want the replayed %s", again.status, again.raw, first.raw)
	}
	if n := totalRecords(t, c, "orders"); n != 1 {
		t.Fatalf("orders holds %d records, want 1", n)
	}
}

// Two instances receiving the same key at once write one record: the
// first claim in the log wins, the other answers 409 or replays.
func TestIdempotencyTwoInstancesOneRecord(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1))
	apis := []*api{newAPI(t, c, httpapi.Idempotency(openStore(t, c, time.Hour))),
		newAPI(t, c, httpapi.Idempotency(openStore(t, c, time.Hour)))}
	const rounds = 10
	for round := range rounds {
		key := "race-" + string(rune('a'+round))
		answers := make([]*answer, 2)
		var wg sync.WaitGroup
		for i, a := range apis {
			wg.Go(func() { answers[i] = a.postKey(t, "/kafka/send", key, sendBody) })
		}
		wg.Wait()
		fresh := 0
		for _, ans := range answers {
			switch {
			case ans.status == http.StatusOK && ans.header.Get("Idempotent-Replayed") == "":
				fresh++
			case ans.status == http.StatusConflict, ans.header.Get("Idempotent-Replayed") == "true":
			default:
				t.Fatalf("round %d: status %d: %s", round, ans.status, ans.raw)
			}
		}
		if fresh != 1 {
			t.Fatalf("round %d: %d requests were processed, want 1", round, fresh)
		}
	}
	if n := totalRecords(t, c, "orders"); n != rounds {
		t.Fatalf("orders holds %d records, want %d", n, rounds)
	}
}

// TestIdempotencyTopicIsCompacted: on a cluster that creates topics on
// first use, the store's topic still gets its own partitions and a
// compacted cleanup policy, not the broker's defaults.
func TestIdempotencyTopicIsCompacted(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t)
	openStore(t, c, time.Hour)
	adm := kadm.NewClient(c.Client(t))
	details, err := adm.ListTopics(t.Context(), idempotency.Topic)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(details[idempotency.Topic].Partitions); got <= 1 {
		t.Errorf("%s has %d partitions: created by the broker's defaults", idempotency.Topic, got)
	}
	configs, err := adm.DescribeTopicConfigs(t.Context(), idempotency.Topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := configs.On(idempotency.Topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	policy := ""
	for _, cfg := range rc.Configs {
		if cfg.Key == "cleanup.policy" && cfg.Value != nil {
			policy = *cfg.Value
		}
	}
	if policy != "compact,delete" {
		t.Errorf("cleanup.policy %q, want compact,delete", policy)
	}
}

// A send whose client goes away before the broker's acknowledgement is
// still completed, and its Idempotency-Key remembers the real outcome: the
// client's retry gets the 200 with partition and offset. The record is
// held at the broker, or lingers in the producer as with KAFKA_LINGER_MS.
func TestIdempotencyClientGoneAwayLearnsOutcome(t *testing.T) {
	kafkatest.Parallel(t)
	for _, mode := range []string{"held at the broker", "lingering"} {
		t.Run(mode, func(t *testing.T) {
			g := startGoneAway(t, mode)
			g.sendAndGoAway(t)
			if mode != "lingering" {
				close(g.release)
			}
			a := &api{cluster: g.c, url: g.srv.URL, client: g.srv.Client()}
			var retry *answer
			kafkatest.WaitFor(t, 20*time.Second, func() error {
				retry = a.postKey(t, "/kafka/send", "gone", sendBody)
				if retry.status == http.StatusConflict {
					return fmt.Errorf("still in flight: %s", retry.raw)
				}
				return nil
			})
			if retry.status != http.StatusOK || retry.header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("retry: status %d, replayed %q: %s", retry.status, retry.header.Get("Idempotent-Replayed"), retry.raw)
			}
			if _, ok := retry.body["offset"].(float64); !ok {
				t.Fatalf("retry: no offset in %s", retry.raw)
			}
			if n := totalRecords(t, g.c, "orders"); n != 1 {
				t.Fatalf("orders holds %d records, want 1", n)
			}
		})
	}
}

// goneAway is a server with an idempotency store whose sends are held at
// the broker until release is closed, or linger in the producer; gone is
// closed once a request's client has gone away.
type goneAway struct {
	mode          string
	c             *kafkatest.Cluster
	store         *idempotency.Store
	srv           *httptest.Server
	held, release chan struct{}
	gone          chan struct{}
}

// startGoneAway starts a goneAway in mode on a cluster of its own.
func startGoneAway(t *testing.T, mode string) *goneAway {
	t.Helper()
	g := &goneAway{mode: mode, held: make(chan struct{}), release: make(chan struct{}), gone: make(chan struct{})}
	g.c = kafkatest.NewCluster(t, kafkatest.Topic("orders", 1))
	g.store = openStore(t, g.c, time.Hour)
	cfg := g.c.Config()
	if mode == "lingering" {
		cfg.Linger = 1500 * time.Millisecond
		close(g.release)
	} else {
		holdProduce(t, g.c, "orders", g.held, g.release)
	}
	p, err := producer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	handler := httpapi.New(p, httpapi.Idempotency(g.store))
	var goneOnce sync.Once
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		context.AfterFunc(r.Context(), func() { goneOnce.Do(func() { close(g.gone) }) })
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

// sendAndGoAway sends with the key "gone" and cancels the request once
// the send is held at the broker or its key claimed, and waits until the
// server has seen its client go away.
func (g *goneAway) sendAndGoAway(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.srv.URL+"/kafka/send", strings.NewReader(sendBody))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "gone")
	errc := make(chan error, 1)
	go func() {
		resp, err := g.srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("answered %d before the client went away", resp.StatusCode)
		}
		errc <- err
	}()
	if g.mode == "lingering" {
		kafkatest.WaitFor(t, 10*time.Second, func() error {
			if g.store.Stats().Keys == 0 {
				return fmt.Errorf("the key is not claimed yet")
			}
			return nil
		})
	} else {
		waitClosed(t, g.held, "the send reached the broker")
	}
	cancel()
	if err := <-errc; !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("client: %v, want it cancelled", err)
	}
	waitClosed(t, g.gone, "the server saw the client go away")
}
