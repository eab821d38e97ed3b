package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Fill writes w.Messages messages to w.Topic, spread over its partitions,
// for a consume run to read.
func Fill(ctx context.Context, cfg config.Kafka, w Workload) error {
	cl, err := RawClient(quietConfig(cfg), kgo.MaxBufferedRecords(100_000))
	if err != nil {
		return err
	}
	defer cl.Close()
	var mu sync.Mutex
	var firstErr error
	for i := range w.Messages {
		cl.Produce(ctx, &kgo.Record{Topic: w.Topic, Key: key(i, w.Keys), Value: value(i, w.Size)}, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				firstErr = cmp(firstErr, err)
				mu.Unlock()
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	return firstErr
}

// span times a run from its first message to its last.
type span struct {
	count atomic.Int64
	first atomic.Int64 // unix nanoseconds
	last  atomic.Int64
	all   chan struct{}
	total int64
}

func newSpan(total int) *span { return &span{all: make(chan struct{}), total: int64(total)} }

// begin starts the span, if it has not started, without counting.
func (s *span) begin() {
	if s.first.Load() == 0 {
		s.first.CompareAndSwap(0, time.Now().UnixNano())
	}
}

func (s *span) tick() {
	now := time.Now().UnixNano()
	s.first.CompareAndSwap(0, now)
	if s.count.Add(1) == s.total {
		s.last.Store(now)
		close(s.all)
	}
}

func (s *span) elapsed() time.Duration { return time.Duration(s.last.Load() - s.first.Load()) }

func (s *span) wait(ctx context.Context) error {
	select {
	case <-s.all:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("consumed %d of %d: %w", s.count.Load(), s.total, ctx.Err())
	}
}

// ConsumeKafkakit reads w.Messages from w.Topic in a fresh group through a
// kafkakit consumer whose handler waits w.HandlerWait; w.Concurrency above
// 1 handles keys in parallel (KeyConcurrency).
func ConsumeKafkakit(ctx context.Context, cfg config.Kafka, w Workload, group string) (Result, error) {
	ctx, cancel := ctxOrTimeout(ctx)
	defer cancel()
	cfg = quietConfig(cfg)
	cfg.GroupID = group
	c, err := consumer.New(cfg, consumer.Logger(quiet))
	if err != nil {
		return Result{}, err
	}
	defer c.Close()
	sp := newSpan(w.Messages)
	order := newOrderCheck(w)
	h := consumer.HandlerFunc(func(ctx context.Context, m *consumer.Message) error {
		if w.HandlerWait > 0 {
			time.Sleep(w.HandlerWait)
		}
		order.see(m)
		sp.tick()
		w.progress(1)
		return nil
	})
	var opts []consumer.SubscribeOption
	name := "kafkakit consumer"
	if w.Concurrency > 1 {
		opts = append(opts, consumer.KeyConcurrency(w.Concurrency))
		name = fmt.Sprintf("kafkakit %d workers by key", w.Concurrency)
	}
	if err := c.Subscribe(w.Topic, true, h, opts...); err != nil {
		return Result{}, err
	}
	r, finish, err := runTimed(ctx, c, name, w, sp)
	if order != nil {
		r.Note = order.verdict()
		if order.broken() {
			err = errors.Join(err, errors.New(r.Note))
		}
	}
	return r, errors.Join(err, finish())
}

// runTimed runs c until sp has counted all its messages, measuring the
// span. finish stops c and returns the error its Run ended with.
func runTimed(ctx context.Context, c *consumer.Consumer, name string, w Workload, sp *span) (r Result, finish func() error, err error) {
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	r, err = measureSpan(name, w, func() (int, []time.Duration, time.Duration, error) {
		go func() { done <- c.Run(runCtx) }()
		err := sp.wait(ctx)
		return int(sp.count.Load()), nil, sp.elapsed(), err
	})
	return r, func() error {
		stop()
		if rerr := <-done; rerr != nil && !errors.Is(rerr, context.Canceled) {
			return rerr
		}
		return nil
	}, err
}

// ConsumeRaw reads w.Messages from w.Topic in a fresh group with a raw
// franz-go poll loop that handles each record in turn (waiting
// w.HandlerWait) and, after each poll, marks each partition's last record
// for franz-go's autocommit.
func ConsumeRaw(ctx context.Context, cfg config.Kafka, w Workload, group string) (Result, error) {
	ctx, cancel := ctxOrTimeout(ctx)
	defer cancel()
	cfg = quietConfig(cfg)
	cl, err := RawClient(cfg, kgo.ConsumerGroup(group), kgo.ConsumeTopics(w.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.AutoCommitMarks(), kgo.AutoCommitInterval(time.Second))
	if err != nil {
		return Result{}, err
	}
	defer cl.Close()
	sp := newSpan(w.Messages)
	return measureSpan("franz-go poll loop", w, func() (int, []time.Duration, time.Duration, error) {
		for sp.count.Load() < int64(w.Messages) {
			fetches := cl.PollRecords(ctx, 10_000)
			if err := ctx.Err(); err != nil {
				return int(sp.count.Load()), nil, sp.elapsed(), err
			}
			fetches.EachPartition(func(p kgo.FetchTopicPartition) {
				for range p.Records {
					if w.HandlerWait > 0 {
						time.Sleep(w.HandlerWait)
					}
					sp.tick()
					w.progress(1)
				}
				if n := len(p.Records); n > 0 {
					cl.MarkCommitRecords(p.Records[n-1])
				}
			})
		}
		return int(sp.count.Load()), nil, sp.elapsed(), nil
	})
}

// orderCheck verifies that each key's messages are handled in the order
// they were sent; it is only kept when messages run in parallel by key.
type orderCheck struct {
	mu         sync.Mutex
	last       map[string]int
	violations int
}

func newOrderCheck(w Workload) *orderCheck {
	if w.Keys <= 0 || w.Concurrency <= 1 {
		return nil
	}
	return &orderCheck{last: make(map[string]int)}
}

func (o *orderCheck) see(m *consumer.Message) {
	if o == nil {
		return
	}
	i := leadingInt(m.Value)
	o.mu.Lock()
	defer o.mu.Unlock()
	if prev, ok := o.last[string(m.Key)]; ok && i <= prev {
		o.violations++
	}
	o.last[string(m.Key)] = i
}

func (o *orderCheck) broken() bool { return o.violations > 0 }

func (o *orderCheck) verdict() string {
	if o.violations > 0 {
		return fmt.Sprintf("per-key order BROKEN %d times", o.violations)
	}
	return fmt.Sprintf("per-key order kept over %d keys", len(o.last))
}

// leadingInt parses the number a benchmark value starts with.
func leadingInt(v []byte) int {
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}
