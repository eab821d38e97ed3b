package producer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/internal/kgolog"
	"github.com/kafkakit/kafkakit/internal/logattr"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrTransactionAborted is the cause of every Result of a batch that
// Transactions.SendBatch did not commit: none of its messages is visible
// to read_committed readers.
var ErrTransactionAborted = errors.New("transaction aborted")

// Transactions sends batches atomically: each batch is one Kafka
// transaction, so a read_committed reader sees all of its messages or
// none. It holds a fixed pool of transactional franz-go clients, apart from
// the Producer's, whose plain sends stay non-transactional and so never
// wait on a transaction. Each client runs one transaction at a time; a
// batch waits for a free client.
//
// Client i of the pool has the transactional id "<prefix>-<i>". Ids must be
// unique among live processes: two processes with the same id fence each
// other. Reusing them across a restart is what lets the broker abort a
// transaction the previous process left open: the first transaction of the
// new process re-initialises the id, which bumps its epoch, fences the old
// process and aborts its open transaction at once. A process whose ids
// are never reused has its open transaction aborted by the broker when
// the transaction timeout (franz-go's default, 40s) passes. Either way a
// read_committed reader never sees part of a batch; it waits at the open
// transaction until it ends.
type Transactions struct {
	slots  chan *txSlot
	build  func(id string) (*kgo.Client, error)
	logger *slog.Logger
	closed atomic.Bool
	once   sync.Once
}

// txSlot is one transactional client of the pool; cl is nil when the last
// one was discarded and its replacement could not be built yet.
type txSlot struct {
	id string
	cl *kgo.Client
}

// NewTransactions returns a pool of size transactional clients (at least
// one) with ids "<prefix>-0" ... for cfg's cluster. Of opts, Logger and
// ClientOpts apply. It connects lazily. Close it when done.
func NewTransactions(cfg config.Kafka, prefix string, size int, opts ...Option) (*Transactions, error) {
	o := options{logger: slog.Default()}
	for _, opt := range opts {
		opt.apply(&o)
	}
	if prefix == "" {
		return nil, errors.New("producer: transactions: the transactional id prefix is empty")
	}
	if !cfg.Producer.Idempotent() {
		return nil, errors.New("producer: transactions need idempotent production (KAFKA_IDEMPOTENT, KAFKA_ACKS=all)")
	}
	base, err := clientOpts(cfg)
	if err != nil {
		return nil, fmt.Errorf("producer: transactions: %w", err)
	}
	logger := o.logger.With(logattr.KeyComponent, "transactions")
	t := &Transactions{slots: make(chan *txSlot, max(size, 1)), logger: logger}
	t.build = func(id string) (*kgo.Client, error) {
		kopts := append(append([]kgo.Opt(nil), base...), kgo.WithLogger(kgolog.New(logger)),
			kgo.RecordPartitioner(Partitioner()))
		kopts = append(kopts, o.clientOpts...)
		return kgo.NewClient(append(kopts, kgo.TransactionalID(id))...)
	}
	for i := range max(size, 1) {
		s := &txSlot{id: prefix + "-" + strconv.Itoa(i)}
		if s.cl, err = t.build(s.id); err != nil {
			for range i {
				(<-t.slots).cl.Close()
			}
			return nil, fmt.Errorf("producer: transactions: %w", err)
		}
		t.slots <- s
	}
	return t, nil
}

// SendBatch sends msgs in one transaction and commits it. On success every
// Result holds its partition and offset, visible to read_committed readers
// from then on. Otherwise nothing of the batch is visible: every Result
// fails, the messages that failed with their own cause and the others with
// ErrTransactionAborted, and the error is a *BatchError whose First is the
// first cause. When the commit's outcome is unknown (the context ended
// while the commit was in flight), the error says so instead and does not
// match ErrTransactionAborted.
func (t *Transactions) SendBatch(ctx context.Context, msgs []Message) ([]Result, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	var s *txSlot
	select {
	case s = <-t.slots:
	case <-ctx.Done():
		return failAll(msgs, nil, context.Cause(ctx))
	}
	defer func() { t.slots <- s }()
	if t.closed.Load() {
		return failAll(msgs, nil, ErrClosed)
	}
	if s.cl == nil {
		cl, err := t.build(s.id)
		if err != nil {
			return failAll(msgs, nil, err)
		}
		s.cl = cl
	}
	results, err, clean := t.run(ctx, s.cl, msgs)
	if clean {
		return results, err
	}
	// The client's state is unknown: a new client re-initialises the id,
	// which bumps its epoch and aborts whatever the old one left open,
	// unless the broker had committed it already.
	s.cl.Close()
	var ferr error
	s.cl, ferr = t.fence(ctx, s.id)
	var ke *kerr.Error
	refused := errors.As(err, &ke) && ke != kerr.UnknownServerError && ke != kerr.RequestTimedOut
	if ferr == nil && refused {
		return failAll(msgs, nil, fmt.Errorf("%w: %w", ErrTransactionAborted, err))
	}
	return failAll(msgs, nil, fmt.Errorf("outcome unknown: %w", errors.Join(err, ferr)))
}

// fenceTimeout bounds re-initialising a transactional id.
const fenceTimeout = 30 * time.Second

// fence builds a new client for id and initialises it, which aborts the
// open transaction of id.
func (t *Transactions) fence(ctx context.Context, id string) (*kgo.Client, error) {
	cl, err := t.build(id)
	if err != nil {
		return nil, err
	}
	// Not cut short by the caller leaving: an unfenced id blocks
	// read_committed readers until the transaction timeout.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fenceTimeout)
	defer cancel()
	if _, _, err = cl.ProducerID(ctx); err != nil {
		cl.Close()
		return nil, err
	}
	return cl, nil
}

// run produces msgs in one transaction on cl and ends it; clean is false
// when the transaction may still be open or committed, and cl must be
// replaced.
func (t *Transactions) run(ctx context.Context, cl *kgo.Client, msgs []Message) (_ []Result, _ error, clean bool) {
	if err := cl.BeginTransaction(); err != nil {
		return nil, err, false
	}
	results := make([]Result, len(msgs))
	var wg sync.WaitGroup
	for i := range msgs {
		msg := msgs[i]
		if err := validate(&msg); err != nil {
			results[i] = failed(msg, err)
			continue
		}
		rec := &kgo.Record{}
		fillRecord(rec, msg)
		wg.Add(1)
		cl.Produce(ctx, rec, func(r *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				results[i] = failed(msg, err)
				return
			}
			results[i] = Result{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp}
		})
	}
	wg.Wait()
	if err := batchErr(results); err != nil {
		return t.abort(ctx, cl, msgs, results)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		// Whether the broker refused the commit or its answer was lost,
		// the caller re-initialises the id, which aborts the transaction
		// unless the commit happened.
		return nil, fmt.Errorf("commit failed: %w", err), false
	}
	return results, nil, true
}

// abort ends a transaction some of whose messages failed.
func (t *Transactions) abort(ctx context.Context, cl *kgo.Client, msgs []Message, results []Result) ([]Result, error, bool) {
	err := cl.AbortBufferedRecords(ctx)
	if err == nil {
		err = cl.EndTransaction(ctx, kgo.TryAbort)
	}
	if err != nil {
		return nil, fmt.Errorf("abort failed: %w", err), false
	}
	r, berr := failAll(msgs, results, ErrTransactionAborted)
	return r, berr, true
}

// failAll fails every message: those failed in results keep their cause,
// the others get err. The *BatchError's First is err, wrapping the first
// message's own cause when there is one, so that callers can tell both
// that the batch was aborted and why.
func failAll(msgs []Message, results []Result, err error) ([]Result, error) {
	out := make([]Result, len(msgs))
	var cause error
	for i := range msgs {
		if results != nil && results[i].Err != nil {
			out[i] = results[i]
			if cause == nil {
				cause = results[i].Err
			}
			continue
		}
		out[i] = failed(msgs[i], err)
	}
	first := err
	if cause != nil {
		first = fmt.Errorf("%w: %w", err, cause)
	}
	return out, &BatchError{Failed: len(msgs), Total: len(msgs), First: first}
}

// Close waits for the batches being sent and closes the clients; an open
// transaction is aborted by the broker.
func (t *Transactions) Close() {
	t.once.Do(func() {
		t.closed.Store(true)
		slots := make([]*txSlot, 0, cap(t.slots))
		for range cap(t.slots) {
			s := <-t.slots
			if s.cl != nil {
				s.cl.Close()
				s.cl = nil
			}
			slots = append(slots, s)
		}
		// Sends after Close take a slot and fail with ErrClosed.
		for _, s := range slots {
			t.slots <- s
		}
		t.logger.LogAttrs(context.Background(), slog.LevelInfo, "transactions closed")
	})
}
