package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
)

// sendSeen is the real producer, telling when the API hands it a message.
type sendSeen struct {
	*producer.Producer
	once sync.Once
	seen chan struct{}
}

func (s *sendSeen) Send(ctx context.Context, msg producer.Message) (producer.Result, error) {
	s.once.Do(func() { close(s.seen) })
	return s.Producer.Send(ctx, msg)
}

// A send without an Idempotency-Key whose client goes away while the
// message lingers in the producer (KAFKA_LINGER_MS) is still delivered:
// the client's going away does not cancel it.
func TestSendCompletesAfterClientWentAway(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1))
	cfg := c.Config()
	cfg.Linger = 1500 * time.Millisecond
	p, err := producer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	sender := &sendSeen{Producer: p, seen: make(chan struct{})}
	handler := httpapi.New(sender)
	gone := make(chan struct{})
	var goneOnce sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		context.AfterFunc(r.Context(), func() { goneOnce.Do(func() { close(gone) }) })
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/kafka/send", strings.NewReader(sendBody))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	errc := make(chan error, 1)
	go func() {
		resp, err := srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	waitClosed(t, sender.seen, "the message was handed to the producer")
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("the client was answered before it went away")
	}
	waitClosed(t, gone, "the server saw the client go away")
	if got := c.ReadAll(t, "orders", 1, 20*time.Second); len(got) != 1 {
		t.Fatalf("orders holds %d records, want 1", len(got))
	}
}
