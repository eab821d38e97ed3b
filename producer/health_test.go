package producer

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestHealthJudgesAfterItsDelay: in a bubble of fake time, dials that
// keep failing make the brokers unreachable exactly once the configured
// delay has passed since the first failure, not before; the channel of
// waiting sends is closed then; a good dial makes them reachable again,
// with a fresh channel. The 5 s delay costs no wall time.
func TestHealthJudgesAfterItsDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		refused := errors.New("connection refused")
		h := newHealth(5*time.Second, func(err error) error { return err }, time.Now())
		h.ctx, h.ping = t.Context(), func(context.Context) error { return nil }
		defer h.stop()
		h.OnBrokerConnect(kgo.BrokerMetadata{}, 0, nil, refused)
		down := h.wentDown()

		time.Sleep(5*time.Second - time.Millisecond)
		synctest.Wait()
		if err := h.err(); err != nil {
			t.Fatalf("before the delay: %v, want reachable", err)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		var unavailable *UnavailableError
		if err := h.err(); !errors.As(err, &unavailable) || !errors.Is(err, refused) {
			t.Fatalf("after the delay: %v, want an *UnavailableError wrapping the dial's error", err)
		}
		select {
		case <-down:
		default:
			t.Fatal("the waiting sends' channel is still open")
		}
		h.wg.Wait() // the probe err started

		h.OnBrokerConnect(kgo.BrokerMetadata{}, 0, nil, nil)
		if err := h.err(); err != nil {
			t.Fatalf("after a good dial: %v, want reachable", err)
		}
		select {
		case <-h.wentDown():
			t.Fatal("a good dial left the channel closed")
		default:
		}
	})
}
