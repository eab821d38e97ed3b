package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/consumer"
)

// RetryFailures is how many times key K's first record fails in a retry
// run before it succeeds, once from each retry topic but the last.
const RetryFailures = 3

// retryDelays are the retry topics of a retry run: K's first record fails
// in the subscribed topic and in the first two retry topics, and succeeds
// from the third.
var retryDelays = []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond}

var errKFails = errors.New("bench: key K fails")

// ConsumeRetry consumes w.Topic, one partition filled by Fill with w.Keys
// keys, in group through a kafkakit consumer whose failure policy sends
// failures through retry topics. With failK, the first record of key K
// (the key of message 0) fails RetryFailures times, and K's later records
// are parked behind it. The result counts the other keys' records only,
// timed from the first handler call to the last of theirs; the run then
// waits for K's records and fails unless they were handled in produce
// order, each once after its success. w.Concurrency above 1 handles keys
// in parallel (KeyConcurrency).
func ConsumeRetry(ctx context.Context, cfg config.Kafka, w Workload, group string, failK bool) (Result, error) {
	if w.Keys < 2 {
		return Result{}, errors.New("bench: a retry run needs at least 2 keys")
	}
	ctx, cancel := ctxOrTimeout(ctx)
	defer cancel()
	cfg = quietConfig(cfg)
	cfg.GroupID = group
	cfg.Assigners = []string{config.AssignerRange} // retry topics need it
	c, err := consumer.New(cfg, consumer.Logger(quiet))
	if err != nil {
		return Result{}, err
	}
	defer c.Close()
	k := newKeyK(w, failK)
	sp := newSpan(w.Messages - k.total)
	h := consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		sp.begin()
		if string(m.Key) != k.key {
			sp.tick()
			w.progress(1)
			return nil
		}
		return k.handle(leadingInt(m.Value))
	})
	opts := []consumer.SubscribeOption{consumer.Failures(consumer.Policy(consumer.RetryTopics(retryDelays...), consumer.DeadLetterSuffix(".dlq")))}
	if w.Concurrency > 1 {
		opts = append(opts, consumer.KeyConcurrency(w.Concurrency))
	}
	if err := c.Subscribe(w.Topic, true, h, opts...); err != nil {
		return Result{}, err
	}
	name := "retry, no failures"
	if failK {
		name = fmt.Sprintf("retry, K fails %d times", RetryFailures)
	}
	r, finish, err := runTimed(ctx, c, name, w, sp)
	if err == nil {
		err = k.wait(ctx)
	}
	r.Note = k.verdict()
	return r, errors.Join(err, finish())
}

// keyK follows key K's records through a retry run: which succeeded, in
// what order, and how often each reached the handler.
type keyK struct {
	key   string
	total int // K's records
	failK bool

	mu        sync.Mutex
	calls     map[int]int // per message number
	succeeded []int       // message numbers, in the order they succeeded
	all       chan struct{}
}

func newKeyK(w Workload, failK bool) *keyK {
	return &keyK{
		key:   string(key(0, w.Keys)),
		total: (w.Messages + w.Keys - 1) / w.Keys, // messages 0, Keys, 2*Keys, ...
		failK: failK,
		calls: map[int]int{},
		all:   make(chan struct{}),
	}
}

// handle is the handler for K's message i.
func (k *keyK) handle(i int) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls[i]++
	if k.failK && i == 0 && k.calls[i] <= RetryFailures {
		return errKFails
	}
	k.succeeded = append(k.succeeded, i)
	if len(k.succeeded) == k.total {
		close(k.all)
	}
	return nil
}

// wait waits until each of K's records succeeded, or ctx ends.
func (k *keyK) wait(ctx context.Context) error {
	select {
	case <-k.all:
		return k.check()
	case <-ctx.Done():
		k.mu.Lock()
		defer k.mu.Unlock()
		return fmt.Errorf("bench: key K: %d of %d records handled: %w", len(k.succeeded), k.total, ctx.Err())
	}
}

// check reports K's order broken or a record of K handled again after it
// succeeded.
func (k *keyK) check() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !slices.IsSorted(k.succeeded) || len(slices.Compact(slices.Clone(k.succeeded))) != len(k.succeeded) {
		return fmt.Errorf("bench: key K's records succeeded out of produce order: %v", k.succeeded)
	}
	for i, n := range k.calls {
		want := 1
		if k.failK && i == 0 {
			want = RetryFailures + 1
		}
		if n != want {
			return fmt.Errorf("bench: key K's message %d reached the handler %d times, want %d", i, n, want)
		}
	}
	return nil
}

func (k *keyK) verdict() string {
	if err := k.check(); err != nil {
		return err.Error()
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return fmt.Sprintf("K: %d of %d records in produce order, each handled once after its success", len(k.succeeded), k.total)
}

// RetryRatio is the other keys' throughput with K failing over that with
// no failures, from the medians of runs.
func RetryRatio(plain, failing []Result) (ratio float64, plainMedian, failingMedian Result) {
	plainMedian, failingMedian = Median(plain), Median(failing)
	if plainMedian.MsgsPerSec() == 0 {
		return 0, plainMedian, failingMedian
	}
	return failingMedian.MsgsPerSec() / plainMedian.MsgsPerSec(), plainMedian, failingMedian
}

// RetryRounds runs ConsumeRetry rounds times without failures and with K
// failing, alternating which goes first, each run on a fresh topic named
// after w.Topic, filled first and deleted afterwards with its retry
// topics. wrap, if not nil, runs each consume (to show progress).
func RetryRounds(ctx context.Context, cfg config.Kafka, w Workload, rounds int, wrap func(Workload, func(Workload) (Result, error)) (Result, error)) (plain, failing []Result, err error) {
	if wrap == nil {
		wrap = func(w Workload, run func(Workload) (Result, error)) (Result, error) { return run(w) }
	}
	base := w.Topic
	for round := range rounds {
		for j := range 2 {
			failK := (round+j)%2 == 1 // even rounds start without failures
			rw := w
			rw.Topic = fmt.Sprintf("%s-r%d-%v", base, round, failK)
			rw.Partitions = 1
			r, err := retryRun(ctx, cfg, rw, failK, wrap)
			if err != nil {
				return plain, failing, err
			}
			if failK {
				failing = append(failing, r)
			} else {
				plain = append(plain, r)
			}
		}
	}
	return plain, failing, nil
}

// retryRun is one run of RetryRounds on its own topic.
func retryRun(ctx context.Context, cfg config.Kafka, w Workload, failK bool, wrap func(Workload, func(Workload) (Result, error)) (Result, error)) (Result, error) {
	if err := CreateTopic(ctx, cfg, w); err != nil {
		return Result{}, fmt.Errorf("bench: create topic %s: %w", w.Topic, err)
	}
	defer func() {
		for _, t := range append([]string{w.Topic}, retryTopics(w.Topic)...) {
			_ = DeleteTopic(context.WithoutCancel(ctx), cfg, t)
		}
	}()
	if err := Fill(ctx, cfg, w); err != nil {
		return Result{}, err
	}
	return wrap(w, func(w Workload) (Result, error) { return ConsumeRetry(ctx, cfg, w, w.Topic+"-group", failK) })
}

func retryTopics(topic string) []string {
	names := make([]string, len(retryDelays))
	for i, d := range retryDelays {
		names[i] = consumer.RetryTopic(topic, d)
	}
	return names
}
