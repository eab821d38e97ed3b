package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

var quiet = slog.New(slog.DiscardHandler)

// CreateTopic makes w's topic with w.Partitions partitions, if it does not
// exist.
func CreateTopic(ctx context.Context, cfg config.Kafka, w Workload) error {
	opts, err := cfg.Opts()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, int32(max(w.Partitions, 1)), -1, nil, w.Topic)
	if err == nil {
		err = resp.Err
	}
	if errors.Is(err, kerr.TopicAlreadyExists) {
		return nil
	}
	return err
}

// DeleteTopic removes w's topic, so that a long benchmark does not fill
// the broker's memory.
func DeleteTopic(ctx context.Context, cfg config.Kafka, topic string) error {
	cl, err := RawClient(cfg)
	if err != nil {
		return err
	}
	defer cl.Close()
	_, err = kadm.NewClient(cl).DeleteTopics(ctx, topic)
	return err
}

// RawClient is a franz-go client configured like kafkakit's, for baselines.
func RawClient(cfg config.Kafka, extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := cfg.Opts()
	if err != nil {
		return nil, err
	}
	return kgo.NewClient(append(opts, extra...)...)
}

// ProduceKafkakit sends w through a kafkakit producer: Concurrency
// goroutines calling Send, or one calling SendAsync when w.Async.
func ProduceKafkakit(ctx context.Context, cfg config.Kafka, w Workload) (Result, error) {
	ctx, cancel := ctxOrTimeout(ctx)
	defer cancel()
	p, err := producer.New(quietConfig(cfg), producer.Logger(quiet))
	if err != nil {
		return Result{}, err
	}
	defer p.Close()
	if _, err := p.Send(ctx, producer.Message{Topic: w.Topic, Value: value(-1, w.Size)}); err != nil {
		return Result{}, fmt.Errorf("warm-up: %w", err)
	}
	name := "kafkakit Send"
	if w.Async {
		name = "kafkakit SendAsync"
	}
	return measure(name, w, func() (int, []time.Duration, error) {
		if !w.Async {
			return split(w.Messages, w.Concurrency, func(i int) (time.Duration, error) {
				start := time.Now()
				_, err := p.Send(ctx, producer.Message{Topic: w.Topic, Key: key(i, w.Keys), Value: value(i, w.Size)})
				w.progress(1)
				return time.Since(start), err
			})
		}
		f := newFanIn(w)
		for i := range w.Messages {
			start := time.Now()
			p.SendAsync(ctx, producer.Message{Topic: w.Topic, Key: key(i, w.Keys), Value: value(i, w.Size)}, func(r producer.Result) {
				f.done(i, start, r.Err)
			})
		}
		return f.wait()
	})
}

// ProduceRaw sends w through a raw franz-go client: ProduceSync from
// Concurrency goroutines, or Produce with a promise when w.Async.
func ProduceRaw(ctx context.Context, cfg config.Kafka, w Workload) (Result, error) {
	ctx, cancel := ctxOrTimeout(ctx)
	defer cancel()
	cl, err := RawClient(quietConfig(cfg), kgo.RecordPartitioner(producer.Partitioner()))
	if err != nil {
		return Result{}, err
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: w.Topic, Partition: -1, Value: value(-1, w.Size)}).FirstErr(); err != nil {
		return Result{}, fmt.Errorf("warm-up: %w", err)
	}
	name := "franz-go ProduceSync"
	if w.Async {
		name = "franz-go Produce"
	}
	return measure(name, w, func() (int, []time.Duration, error) {
		if !w.Async {
			return split(w.Messages, w.Concurrency, func(i int) (time.Duration, error) {
				start := time.Now()
				err := cl.ProduceSync(ctx, &kgo.Record{Topic: w.Topic, Partition: -1, Key: key(i, w.Keys), Value: value(i, w.Size)}).FirstErr()
				w.progress(1)
				return time.Since(start), err
			})
		}
		f := newFanIn(w)
		for i := range w.Messages {
			start := time.Now()
			cl.Produce(ctx, &kgo.Record{Topic: w.Topic, Partition: -1, Key: key(i, w.Keys), Value: value(i, w.Size)}, func(_ *kgo.Record, err error) {
				f.done(i, start, err)
			})
		}
		return f.wait()
	})
}

// fanIn gathers the outcomes of w.Messages asynchronous sends, the same
// way for kafkakit and its baseline.
type fanIn struct {
	w     Workload
	wg    sync.WaitGroup
	mu    sync.Mutex
	first error
	lat   []time.Duration
}

func newFanIn(w Workload) *fanIn {
	f := &fanIn{w: w, lat: make([]time.Duration, w.Messages)}
	f.wg.Add(w.Messages)
	return f
}

// done records send i, begun at start, as finished with err.
func (f *fanIn) done(i int, start time.Time, err error) {
	f.lat[i] = time.Since(start)
	f.w.progress(1)
	if err != nil {
		f.mu.Lock()
		f.first = cmp(f.first, err)
		f.mu.Unlock()
	}
	f.wg.Done()
}

func (f *fanIn) wait() (int, []time.Duration, error) {
	f.wg.Wait()
	return f.w.Messages, f.lat, f.first
}

// cmp keeps the first error.
func cmp(first, err error) error {
	if first != nil {
		return first
	}
	return err
}
