package producer

import (
	"context"
	"sync/atomic"
	"time"
)

// deliveryDeadlines hands out contexts that end one delivery budget
// (KAFKA_DELIVERY_TIMEOUT) after now. Sends within the same short granule
// share one context, so the hot path allocates no timer per message; a
// message's budget is thus at most one granule short.
//
// The contexts are deliberately not derived from a caller's: franz-go
// fails every buffered record of a partition when the first record's
// context ends, so one impatient caller would fail other callers' messages.
type deliveryDeadlines struct {
	budget  time.Duration
	granule time.Duration
	cur     atomic.Pointer[deadline]
}

type deadline struct {
	ctx     context.Context
	cancel  context.CancelFunc
	renewAt time.Time
}

func newDeliveryDeadlines(budget time.Duration) *deliveryDeadlines {
	granule := min(budget/100, 100*time.Millisecond)
	return &deliveryDeadlines{budget: budget, granule: max(granule, time.Millisecond)}
}

// ctx returns a context that ends about one budget after now.
func (d *deliveryDeadlines) ctx(now time.Time) context.Context {
	if cur := d.cur.Load(); cur != nil && now.Before(cur.renewAt) {
		return cur.ctx
	}
	ctx, cancel := context.WithDeadline(context.Background(), now.Add(d.budget))
	d.cur.Store(&deadline{ctx: ctx, cancel: cancel, renewAt: now.Add(d.granule)})
	return ctx
}

// stop releases the current deadline's timer; earlier ones end on their
// own.
func (d *deliveryDeadlines) stop() {
	if cur := d.cur.Load(); cur != nil {
		cur.cancel()
	}
}
