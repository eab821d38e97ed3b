package producer

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/internal/kgolog"
	"github.com/kafkakit/kafkakit/internal/logattr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Header is a record header. Kafka allows repeated keys and nil values.
type Header = kgo.RecordHeader

// Message is one record to send.
type Message struct {
	// Topic is required.
	Topic string
	// Key is hashed to choose the partition, as the Java client does, and
	// nil sends a null key.
	Key []byte
	// Value is the payload; nil sends a null value, a tombstone on
	// compacted topics.
	Value []byte
	// Headers travel with the record in order.
	Headers []Header
	// Partition, when non-nil, overrides the partitioner:
	// Partition: new(int32(2)). A partition the topic does not have fails
	// the send with ErrInvalidPartition.
	Partition *int32
	// Timestamp is the record's create time; zero means the time of
	// sending.
	Timestamp time.Time
}

// Result is where a message landed, or why it did not.
type Result struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp time.Time
	// Err is nil when the broker acknowledged the message (with the
	// configured acks), and is a *SendError otherwise.
	Err error
}

// Producer sends messages to Kafka. It is safe for concurrent use. Records
// to one partition keep the order in which they were sent; with the default
// acks=all production is idempotent, so broker retries neither reorder nor
// duplicate them.
type Producer struct {
	client  *kgo.Client
	owned   bool // whether Close closes client
	logger  *slog.Logger
	enforce time.Duration // per-send deadline when KAFKA_ENFORCE_REQUEST_TIMEOUT is on
	flushTO time.Duration
	expiry  *deliveryDeadlines
	// recordReaders is set when code other than this package's may read
	// records' contexts (see readsRecordContexts), and may replace them:
	// then each record's promise is a closure rather than answer.
	recordReaders bool
	room          *roomSignal
	// batchLimit is the client's batch size limit (KAFKA_BATCH_SIZE) of
	// a topic, nil when unknown.
	batchLimit func(topic string) int32
	health     *health    // nil when the client is the caller's
	forgetter  *forgetter // nil when the client is the caller's
	stopProbes context.CancelFunc
	parts      *lru.Cache[string, cachedCount] // partition counts by topic
	autoCreate autoCreate                      // whether the cluster creates unknown topics
	observe    Observer                        // nil when not observed
	// nonBlock refuses sends when the buffer is full; maxBuffered is the
	// record limit, to tell when it is.
	nonBlock         bool
	maxBuffered      int64
	maxBufferedBytes int64

	closeOnce sync.Once
	isClosed  atomic.Bool
}

// clientOpts validates and turns into options only the parts of cfg a
// producer uses: a bad group setting is not the producer's concern.
func clientOpts(cfg config.Kafka) ([]kgo.Opt, error) {
	if err := errors.Join(cfg.Client.Validate(), cfg.Producer.Validate()); err != nil {
		return nil, err
	}
	opts, err := cfg.Client.Opts()
	return append(opts, cfg.Producer.Opts()...), err
}

// New returns a Producer for cfg. It connects lazily: a cluster that is down
// makes sends fail, not New; call Ping to find out at once. Close it when
// done.
func New(cfg config.Kafka, opts ...Option) (*Producer, error) {
	o := options{logger: slog.Default(), unavailableAfter: 5 * time.Second}
	for _, opt := range opts {
		opt.apply(&o)
	}
	logger := o.logger.With(logattr.KeyComponent, "producer")
	cl := o.client
	var h *health
	if cl == nil {
		kopts, err := clientOpts(cfg)
		if err != nil {
			return nil, fmt.Errorf("producer: %w", err)
		}
		h = newHealth(o.unavailableAfter, cfg.Diagnose, time.Now())
		kopts = append(kopts, kgo.WithLogger(kgolog.New(logger)), kgo.RecordPartitioner(Partitioner()), kgo.WithHooks(h))
		kopts = append(kopts, o.clientOpts...)
		if cl, err = kgo.NewClient(kopts...); err != nil {
			return nil, fmt.Errorf("producer: %w", err)
		}
	} else {
		// A client of the caller's: only the timeouts come from cfg, and
		// a zero configuration means the defaults.
		def := config.Default()
		cfg.DeliveryTimeout = cmp.Or(cfg.DeliveryTimeout, def.DeliveryTimeout)
		cfg.ShutdownTimeout = cmp.Or(cfg.ShutdownTimeout, def.ShutdownTimeout)
		cfg.RequestTimeout = cmp.Or(cfg.RequestTimeout, def.RequestTimeout)
	}
	p := &Producer{
		client:   cl,
		owned:    o.client == nil,
		logger:   logger,
		flushTO:  cfg.ShutdownTimeout,
		expiry:   newDeliveryDeadlines(cfg.DeliveryTimeout),
		observe:  o.observer,
		nonBlock: o.nonBlock,
		// The client's own limits, whoever set them.
		maxBuffered:      optInt64(cl, kgo.MaxBufferedRecords),
		maxBufferedBytes: optInt64(cl, kgo.MaxBufferedBytes),
		recordReaders:    readsRecordContexts(cl),
		room:             newRoomSignal(),
		batchLimit:       batchLimit(cl),
		parts:            newPartitionCache(),
		health:           h,
	}
	if h != nil {
		h.ctx, p.stopProbes = context.WithCancel(context.Background())
		h.ping = cl.Ping
		p.forgetter = newForgetter()
		go p.forgetter.run(h.ctx, cl)
	}
	if p.maxBufferedBytes <= 0 {
		p.maxBufferedBytes = math.MaxInt64 // franz-go's default: no byte limit
	}
	if cfg.EnforceRequestTimeout {
		p.enforce = cfg.RequestTimeout
	}
	return p, nil
}

// readsRecordContexts reports whether something of the client's other
// than this package's partitioner is handed the records, and so may read
// their contexts: a hook that sees records (kotel starts its spans from
// them), or a partitioner of the caller's.
func readsRecordContexts(cl *kgo.Client) bool {
	if _, ours := cl.OptValue(kgo.RecordPartitioner).(explicitPartitioner); !ours {
		return true
	}
	hooks, _ := cl.OptValue(kgo.WithHooks).([]kgo.Hook)
	for _, h := range hooks {
		switch h.(type) {
		case kgo.HookProduceRecordBuffered, kgo.HookProduceRecordPartitioned, kgo.HookProduceRecordUnbuffered:
			return true
		}
	}
	return false
}

// batchLimit reads the client's batch size limit.
func batchLimit(cl *kgo.Client) func(string) int32 {
	switch v := cl.OptValue(kgo.ProducerBatchMaxBytes).(type) {
	case int32:
		return func(string) int32 { return v }
	case func(string) int32:
		return v
	}
	return nil
}

// optInt64 reads a numeric client option.
func optInt64(cl *kgo.Client, opt any) int64 {
	switch v := cl.OptValue(opt).(type) {
	case int:
		return int64(v)
	case int64:
		return v
	}
	return 0
}

// Client returns the franz-go client underneath, for what this package does
// not wrap. Do not close it; close the Producer.
func (p *Producer) Client() *kgo.Client { return p.client }

// Send sends msg and waits until the broker acknowledged it, the send
// failed, or ctx ended. When ctx ends first the error wraps ctx.Err(), and
// the message may still be delivered: a buffered message is only withdrawn
// when its delivery timeout (KAFKA_DELIVERY_TIMEOUT) passes, and never once
// the broker may have written it, since that would break idempotence.
// While no broker can be reached (see UnavailableAfter) it fails at once
// with an *UnavailableError, and a Send already waiting then returns it
// too, its message possibly still delivered later.
func (p *Producer) Send(ctx context.Context, msg Message) (Result, error) {
	if p.enforce > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.enforce)
		defer cancel()
	}
	w := waiters.Get().(*waiter)
	p.send(ctx, msg, w.deliver, true)
	down := p.health.wentDown()
	for {
		var err error
		select {
		case r := <-w.ch:
			waiters.Put(w)
			return r, r.Err
		case <-down:
			if err = p.health.err(); err == nil {
				down = p.health.wentDown() // back already
				continue
			}
		case <-ctx.Done():
			err = context.Cause(ctx)
		}
		select {
		case r := <-w.ch: // answered just as we gave up: the answer wins
			waiters.Put(w)
			return r, r.Err
		default:
		}
		// The callback may still come: w is not reused, and the message
		// may still be delivered.
		r := failed(msg, err)
		return r, r.Err
	}
}

// waiter carries one synchronous send's result. Waiters are pooled, since
// Send is the hot path of most callers.
type waiter struct {
	ch      chan Result
	deliver func(Result)
}

var waiters = sync.Pool{New: func() any {
	w := &waiter{ch: make(chan Result, 1)}
	w.deliver = func(r Result) { w.ch <- r }
	return w
}}

// SendBatch sends msgs concurrently and waits for all of them. It returns
// one Result per message, in the order given; messages to the same
// partition are written in that order. The error is nil only if every
// message was acknowledged; otherwise it is a *BatchError and the failed
// Results hold their own errors, so that a caller can resend exactly
// those. If ctx ends first, the messages not yet acknowledged fail with
// its cause, though they may still be delivered (see Send).
func (p *Producer) SendBatch(ctx context.Context, msgs []Message) ([]Result, error) {
	if p.enforce > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.enforce)
		defer cancel()
	}
	n := len(msgs)
	if n == 0 {
		return nil, nil
	}
	var (
		results  = make([]Result, n)
		finished = make([]atomic.Bool, n) // set after results[i] is written
		pending  atomic.Int64
		allDone  = make(chan struct{})
	)
	pending.Store(int64(n))
	for i := range msgs {
		if ctx.Err() != nil {
			// Not sent at all: the results below say so, and a client
			// that resends exactly the failed ones duplicates nothing.
			break
		}
		p.send(ctx, msgs[i], func(r Result) {
			results[i] = r
			finished[i].Store(true)
			if pending.Add(-1) == 0 {
				close(allDone)
			}
		}, true)
	}
	select {
	case <-allDone:
		return results, batchErr(results)
	case <-ctx.Done():
	}
	// Late callbacks may still write the unfinished slots, so answer from
	// a copy of the finished ones.
	out := make([]Result, n)
	for i := range out {
		if finished[i].Load() {
			out[i] = results[i]
		} else {
			out[i] = failed(msgs[i], context.Cause(ctx))
		}
	}
	return out, batchErr(out)
}

// SendAsync buffers msg and returns at once, unless the producer's buffer
// is full (KAFKA_MAX_BUFFERED_RECORDS, KAFKA_MAX_BUFFERED_BYTES), in which
// case it waits for room, at most until the delivery timeout
// (KAFKA_DELIVERY_TIMEOUT), or fails at once with ErrBufferFull under
// NonBlocking. done is called exactly once, when the broker has
// acknowledged the message or the send has failed (at the latest when the
// delivery timeout passes). done is called from a goroutine of the client,
// one callback at a time, so it must not block. ctx passes its values (a
// trace span) to the client's hooks; its cancellation does not withdraw
// the message.
func (p *Producer) SendAsync(ctx context.Context, msg Message, done func(Result)) {
	if done == nil {
		done = func(Result) {}
	}
	p.send(ctx, msg, done, false)
}

// send is SendAsync; with patient, a full buffer is waited for only as
// long as ctx allows, which costs a look at the client's buffer under its
// lock, so only the synchronous sends ask for it.
func (p *Producer) send(ctx context.Context, msg Message, done func(Result), patient bool) {
	if p.observe != nil {
		done = p.observed(msg.Topic, done)
	}
	if err := validate(&msg); err != nil {
		done(failed(msg, err))
		return
	}
	if p.isClosed.Load() {
		done(failed(msg, ErrClosed))
		return
	}
	if err := p.health.err(); err != nil {
		done(failed(msg, err))
		return
	}
	out := &outgoing{p: p, done: done, values: ctx}
	rec := &out.rec
	fillRecord(rec, msg)
	out.partition = rec.Partition
	// Reading the clock is not free on every machine: read it once, for
	// both the record's timestamp and its delivery deadline.
	now := time.Now()
	if rec.Timestamp.IsZero() {
		rec.Timestamp = now
	}
	// The record carries the caller's values but never the caller's
	// cancellation: see outgoing.
	rec.Context = out
	// A synchronous sender waits for room in a full buffer only as long
	// as its ctx allows, and outside the client, which would otherwise tie
	// the record to ctx.
	if patient && !p.nonBlock && ctx.Done() != nil {
		if err := p.waitForRoom(ctx, len(msg.Key)+len(msg.Value)); err != nil {
			done(failed(msg, err))
			return
		}
	}
	promise := answer
	if p.recordReaders {
		promise = func(_ *kgo.Record, err error) { out.answer(err) }
	}
	produceCtx := p.expiry.ctx(now)
	if p.nonBlock {
		p.client.TryProduce(produceCtx, rec, promise)
		return
	}
	p.client.Produce(produceCtx, rec, promise)
}

// waitForRoom returns once the buffer has room for a message of size
// bytes, or ctx's cause once ctx ends. Each answered record makes room for
// one waiter, which then enters the client while the record is leaving its
// buffer. Another sender may still take the room first, in which case the
// send waits inside the client, at most until its delivery deadline.
func (p *Producer) waitForRoom(ctx context.Context, size int) error {
	if p.hasRoom(size) {
		return nil
	}
	p.room.waiting.Add(1)
	defer p.room.waiting.Add(-1)
	if p.hasRoom(size) { // a record answered before we were counted
		return nil
	}
	select {
	case <-p.room.ch:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (p *Producer) hasRoom(size int) bool {
	return p.client.BufferedProduceRecords() < p.maxBuffered && p.client.BufferedProduceBytes()+int64(size) <= p.maxBufferedBytes
}

// observed wraps done to report the outcome to the observer.
func (p *Producer) observed(topic string, done func(Result)) func(Result) {
	start := time.Now()
	return func(r Result) {
		p.observe.Sent(topic, r.Err, time.Since(start))
		done(r)
	}
}

// SendJSON sends v encoded as JSON under key ("" for a null key) and waits
// for the acknowledgement, like Send.
func (p *Producer) SendJSON(ctx context.Context, topic, key string, v any) (Result, error) {
	msg := Message{Topic: topic}
	value, err := json.Marshal(v)
	if err != nil {
		r := failed(msg, fmt.Errorf("encode JSON: %w", err))
		return r, r.Err
	}
	msg.Value = value
	if key != "" {
		msg.Key = []byte(key)
	}
	return p.Send(ctx, msg)
}

// Flush waits until every buffered message has been acknowledged or has
// failed, or ctx ends.
func (p *Producer) Flush(ctx context.Context) error {
	if err := p.client.Flush(ctx); err != nil {
		return fmt.Errorf("producer: flush: %w", err)
	}
	return nil
}

// Close stops accepting messages, waits up to the configured shutdown
// timeout (KAFKA_SHUTDOWN_TIMEOUT) for buffered ones to be delivered, then
// closes the connections. Messages still unsent then fail with ErrClosed
// through their callbacks. Close is safe to call more than once.
func (p *Producer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), p.flushTO)
	defer cancel()
	return p.CloseContext(ctx)
}

// CloseContext is Close with the flush bounded by ctx instead of the
// configured shutdown timeout.
func (p *Producer) CloseContext(ctx context.Context) error {
	var err error
	p.closeOnce.Do(func() {
		p.isClosed.Store(true)
		if !p.owned {
			return
		}
		p.stopProbes()
		p.health.wg.Wait()
		p.health.stop()
		<-p.forgetter.done
		if ferr := p.client.Flush(ctx); ferr != nil {
			err = fmt.Errorf("producer: close: unsent messages dropped: %w", ferr)
		}
		p.client.Close()
		p.expiry.stop()
		p.logger.LogAttrs(context.Background(), slog.LevelInfo, "producer closed")
	})
	return err
}

func fillRecord(r *kgo.Record, msg Message) {
	*r = kgo.Record{
		Topic:     msg.Topic,
		Key:       msg.Key,
		Value:     msg.Value,
		Headers:   msg.Headers,
		Timestamp: msg.Timestamp,
		Partition: -1,
	}
	if msg.Partition != nil {
		r.Partition = *msg.Partition
	}
}

// failed is the Result of a message that was not delivered.
func failed(msg Message, err error) Result {
	partition := int32(-1)
	if msg.Partition != nil {
		partition = *msg.Partition
	}
	return Result{Topic: msg.Topic, Partition: partition, Offset: -1, Err: newSendError(msg.Topic, partition, err)}
}

func validate(msg *Message) error {
	if msg.Topic == "" {
		return ErrNoTopic
	}
	if msg.Partition != nil && *msg.Partition < 0 {
		return fmt.Errorf("%w: %d is negative", ErrInvalidPartition, *msg.Partition)
	}
	return nil
}

func batchErr(results []Result) error {
	var failed int
	var first error
	for _, r := range results {
		if r.Err != nil {
			if first == nil {
				first = r.Err
			}
			failed++
		}
	}
	if failed == 0 {
		return nil
	}
	return &BatchError{Failed: failed, Total: len(results), First: first}
}
