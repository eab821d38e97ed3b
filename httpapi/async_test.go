package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestRespondAsyncDelivers: Prefer: respond-async is answered 202 with a
// request id, and the records are then delivered.
func TestRespondAsyncDelivers(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("later", 1))
	a := newAPI(t, c)
	ans := a.do(t, "POST", "/kafka/send", "application/json", `{"topic":"later","value":"one"}`, "Prefer", "wait=5, respond-async")
	if ans.status != 202 || ans.header.Get("Preference-Applied") != "respond-async" || ans.body["request_id"] == "" {
		t.Fatalf("got %d %s (Preference-Applied %q), want 202 with a request id", ans.status, ans.raw, ans.header.Get("Preference-Applied"))
	}
	ans = a.do(t, "POST", "/kafka/send-batch", "application/json",
		`{"messages":[{"topic":"later","value":"two"},{"topic":"later","value":"three"}]}`, "Prefer", "respond-async")
	if ans.status != 202 || ans.body["request_id"] == "" {
		t.Fatalf("batch: got %d %s, want 202", ans.status, ans.raw)
	}
	// Validation still comes first: a bad body is refused, not accepted.
	if ans := a.do(t, "POST", "/kafka/send", "application/json", `{"topic":"later","valu":"x"}`, "Prefer", "respond-async"); ans.status != 400 {
		t.Fatalf("bad body: got %d %s, want 400", ans.status, ans.raw)
	}
	recs := c.ReadAll(t, "later", 3, 10*time.Second)
	var got []string
	for _, r := range recs {
		got = append(got, string(r.Value))
	}
	if strings.Join(got, ",") != "one,two,three" {
		t.Errorf("topic holds %v, want one,two,three", got)
	}
}

// TestRespondAsyncFailureIsLoggedAndCounted: a record the broker refuses
// after its 202 is logged with the answer's request id and counted.
func TestRespondAsyncFailureIsLoggedAndCounted(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("refused", 1))
	var buf bytes.Buffer
	var mu sync.Mutex
	logs := &lockedWriter{w: &buf, mu: &mu}
	text := func() []byte { mu.Lock(); defer mu.Unlock(); return bytes.Clone(buf.Bytes()) }
	var failed atomic.Int64
	a := newAPI(t, c, httpapi.Logger(slog.New(slog.NewJSONHandler(logs, nil))),
		httpapi.AsyncFailed(func(topic string) {
			if topic == "refused" {
				failed.Add(1)
			}
		}))
	c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "refused", Err: kerr.TopicAuthorizationFailed, Count: -1})
	ans := a.do(t, "POST", "/kafka/send", "application/json", `{"topic":"refused","value":"lost"}`, "Prefer", "respond-async")
	if ans.status != 202 {
		t.Fatalf("got %d %s, want 202", ans.status, ans.raw)
	}
	id := ans.body["request_id"].(string)
	kafkatest.WaitFor(t, 10*time.Second, func() error {
		if failed.Load() != 1 {
			return fmt.Errorf("%d failures counted", failed.Load())
		}
		return nil
	})
	for _, line := range bytes.Split(text(), []byte("\n")) {
		if bytes.Contains(line, []byte(`"request_id":"`+id+`"`)) && bytes.Contains(line, []byte("not delivered")) &&
			bytes.Contains(line, []byte(`"level":"ERROR"`)) {
			return
		}
	}
	t.Errorf("no error log line names request %s:\n%s", id, text())
}

// syncSender is a Sender without SendAsync, whose sends wait at gate:
// respond-async must then send from goroutines of the handler's own.
type syncSender struct {
	p       *producer.Producer
	entered chan struct{}
	gate    chan struct{}
}

func (s syncSender) Send(ctx context.Context, msg producer.Message) (producer.Result, error) {
	s.entered <- struct{}{}
	<-s.gate
	return s.p.Send(ctx, msg)
}

func (s syncSender) SendBatch(ctx context.Context, msgs []producer.Message) ([]producer.Result, error) {
	return s.p.SendBatch(ctx, msgs)
}

func (s syncSender) Partitions(ctx context.Context, topic string, atLeast int32) (int32, error) {
	return s.p.Partitions(ctx, topic, atLeast)
}

var _ httpapi.Sender = syncSender{}

// TestCloseWaitsForAsyncSends: with a Sender that cannot send
// asynchronously, a message answered 202 is sent from a goroutine that
// the handler's Close waits for, and the message arrives.
func TestCloseWaitsForAsyncSends(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("later", 1))
	p, err := producer.New(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	sender := syncSender{p: p, entered: make(chan struct{}, 1), gate: make(chan struct{})}
	h := httpapi.New(sender)
	srv := httptest.NewServer(h)
	a := &api{cluster: c, url: srv.URL, client: srv.Client()}
	ans := a.do(t, "POST", "/kafka/send", "application/json", `{"topic":"later","value":"one"}`, "Prefer", "respond-async")
	if ans.status != 202 {
		t.Fatalf("got %d %s, want 202", ans.status, ans.raw)
	}
	srv.Close()
	<-sender.entered // the send runs, held at the gate
	closed := make(chan struct{})
	go func() { h.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a send was running")
	default:
	}
	close(sender.gate)
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return once the send ended")
	}
	if recs := c.ReadAll(t, "later", 1, 10*time.Second); string(recs[0].Value) != "one" {
		t.Errorf("topic holds %q, want one", recs[0].Value)
	}
}
