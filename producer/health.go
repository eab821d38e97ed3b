package producer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// health follows the client's broker connections, so that sends fail at
// once while no broker can be reached instead of waiting out their
// delivery or request timeouts. It is a franz-go hook: every dial attempt,
// successful or not, reports to it.
type health struct {
	after    time.Duration // how long dials must keep failing; 0 disables
	diagnose func(error) error

	mu           sync.Mutex
	open         int                           // connections open now
	failingSince time.Time                     // first failed dial since the last good one; zero when none
	lastErr      error                         // the last failed dial's error, diagnosed
	down         atomic.Pointer[chan struct{}] // closed when unavailable is set
	timer        *time.Timer                   // to judge again once dials have failed long enough

	// unavailable is set while no broker can be reached: the one thing
	// a send looks at.
	unavailable atomic.Pointer[UnavailableError]

	probing atomic.Bool
	ping    func(context.Context) error
	ctx     context.Context // ends when the producer closes
	wg      sync.WaitGroup  // probes in flight
}

var (
	_ kgo.HookBrokerConnect    = (*health)(nil)
	_ kgo.HookBrokerDisconnect = (*health)(nil)
)

func newHealth(after time.Duration, diagnose func(error) error, start time.Time) *health {
	// Until a first dial succeeds, the producer has been without brokers
	// since it started.
	h := &health{after: after, diagnose: diagnose, failingSince: start}
	h.rearm()
	return h
}

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (h *health) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		h.open++
		h.failingSince, h.lastErr = time.Time{}, nil
		if h.unavailable.Swap(nil) != nil {
			h.rearm()
		}
		return
	}
	if h.failingSince.IsZero() {
		h.failingSince = time.Now()
	}
	h.lastErr = h.diagnose(err)
	h.judge()
}

// judge marks the brokers unreachable once dials have failed for long
// enough with no connection open, or looks again when they will have.
// h.mu is held.
func (h *health) judge() {
	if h.after <= 0 || h.open > 0 || h.failingSince.IsZero() || h.unavailable.Load() != nil {
		return
	}
	if wait := h.after - time.Since(h.failingSince); wait > 0 {
		if h.timer == nil {
			h.timer = time.AfterFunc(wait, func() {
				h.mu.Lock()
				defer h.mu.Unlock()
				h.timer = nil
				h.judge()
			})
		}
		return
	}
	h.unavailable.Store(&UnavailableError{Since: h.failingSince, Err: h.lastErr})
	close(*h.down.Load())
}

// stop ends the pending look, if any.
func (h *health) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.timer != nil {
		h.timer.Stop()
		h.timer = nil
	}
}

// OnBrokerDisconnect implements kgo.HookBrokerDisconnect.
func (h *health) OnBrokerDisconnect(kgo.BrokerMetadata, net.Conn) {
	h.mu.Lock()
	h.open--
	h.mu.Unlock()
}

// err is nil while brokers can be reached, and an *UnavailableError once
// none could be for the configured time. Refused sends start a probe, so
// that the producer notices the brokers coming back even when nothing
// else dials them.
func (h *health) err() error {
	if h == nil {
		return nil
	}
	u := h.unavailable.Load()
	if u == nil {
		return nil
	}
	h.probe()
	return u
}

// wentDown is closed when the brokers are found unreachable, for sends
// already waiting for an answer.
func (h *health) wentDown() <-chan struct{} {
	if h == nil {
		return nil
	}
	return *h.down.Load()
}

func (h *health) rearm() {
	ch := make(chan struct{})
	h.down.Store(&ch)
}

// probe pings the cluster in the background, one probe at a time.
func (h *health) probe() {
	if !h.probing.CompareAndSwap(false, true) {
		return
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer h.probing.Store(false)
		ctx, cancel := context.WithTimeout(h.ctx, max(h.after, time.Second))
		defer cancel()
		_ = h.ping(ctx) // the hook above records the outcome
	}()
}

// UnavailableError is the error of a send refused because no broker could
// be reached for a while (see UnavailableAfter). Err is the last
// connection error, with a hint of what to check when it is recognised
// (see config.Kafka.Diagnose). Nothing was handed to the brokers.
type UnavailableError struct {
	Since time.Time // when the connections started failing
	Err   error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("no broker reachable since %s: %v", e.Since.Format(time.RFC3339), e.Err)
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// Ping checks that a broker answers, connecting if need be, and returns
// why not otherwise, with a hint of what to check (an unreachable address,
// a refused certificate, failed authentication). Use it after New to fail
// fast on a bad configuration: New itself connects lazily.
func (p *Producer) Ping(ctx context.Context) error {
	if err := p.client.Ping(ctx); err != nil {
		return fmt.Errorf("producer: ping: %w", p.diagnose(err))
	}
	return nil
}

// diagnose adds hints to connection errors; others are returned as they
// are.
func (p *Producer) diagnose(err error) error {
	var ue *UnavailableError
	if p.health == nil || errors.As(err, &ue) {
		return err
	}
	return p.health.diagnose(err)
}
