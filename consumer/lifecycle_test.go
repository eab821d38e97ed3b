package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type ctxKey struct{}

// TestHandlerContextCarriesRunValues: what Run's context carries (a trace
// id, a logger) reaches the handler, while ending Run's context still lets
// the handler finish within the shutdown timeout.
func TestHandlerContextCarriesRunValues(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("values", 1))
	c.Produce(t, &kgo.Record{Topic: "values", Value: []byte("x")})
	cs, err := consumer.New(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan any, 1)
	started, release := make(chan struct{}), make(chan struct{})
	h := consumer.HandlerFunc(func(ctx context.Context, m *consumer.Message) error {
		got <- ctx.Value(ctxKey{})
		close(started)
		<-release
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("handler context ended with Run's: %w", err)
		}
		return nil
	})
	if err := cs.Subscribe("values", true, h); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "trace-123"))
	done := make(chan error, 1)
	go func() { done <- cs.Run(ctx) }()
	<-started
	if v := <-got; v != "trace-123" {
		t.Errorf("handler context value = %v, want trace-123 from Run's context", v)
	}
	cancel()
	close(release)
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if err := cs.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if got := committed(t, c, "kafkatest-group", "values", 0); got != 1 {
		t.Errorf("committed %d, want 1: the handler finished after Run's context ended", got)
	}
}

// TestRunOnce: Run while running is ErrRunning; after it returned, Run and
// Subscribe say so with ErrRunEnded.
func TestRunOnce(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("once", 1))
	var seen log
	c.Produce(t, &kgo.Record{Topic: "once", Value: []byte("x")})
	r := start(t, c.Config(), func(cs *consumer.Consumer) error { return cs.Subscribe("once", true, seen.handler()) })
	waitLen(t, &seen, 1) // Run has started
	if err := r.c.Run(t.Context()); !errors.Is(err, consumer.ErrRunning) {
		t.Errorf("Run while running: %v, want ErrRunning", err)
	}
	r.cancel()
	if err := <-r.done; err != nil {
		t.Fatal(err)
	}
	r.cancel = nil // stopped here; only Close is left
	t.Cleanup(func() { r.c.Close() })
	if err := r.c.Run(t.Context()); !errors.Is(err, consumer.ErrRunEnded) {
		t.Errorf("Run after Run: %v, want ErrRunEnded", err)
	}
	if err := r.c.Subscribe("other", true, seen.handler()); !errors.Is(err, consumer.ErrRunEnded) {
		t.Errorf("Subscribe after Run: %v, want ErrRunEnded", err)
	}
}

// TestEmptyPartitionHasLagZero: an assigned partition that never had a
// message has high watermark 0 and lag 0, not unknown.
func TestEmptyPartitionHasLagZero(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("empty", 2))
	c.Produce(t, &kgo.Record{Topic: "empty", Partition: 1, Value: []byte("x")})
	var seen log
	r := start(t, c.Config(), func(cs *consumer.Consumer) error { return cs.Subscribe("empty", true, seen.handler()) },
		consumer.ClientOpts(kgo.RecordPartitioner(kgo.ManualPartitioner())))
	waitLen(t, &seen, 1)
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		st := r.c.Status()
		if len(st.Subscriptions) != 1 || len(st.Subscriptions[0].Partitions) != 2 {
			return fmt.Errorf("status %+v, want both partitions", st)
		}
		ps := st.Subscriptions[0].Partitions
		if ps[0].HighWatermark != 0 || ps[0].Lag != 0 {
			return fmt.Errorf("empty partition 0: %+v, want high watermark 0 and lag 0", ps[0])
		}
		if ps[1].HighWatermark != 1 || ps[1].Lag != 0 || ps[1].Committed != 1 {
			return fmt.Errorf("partition 1: %+v, want committed 1, high watermark 1, lag 0", ps[1])
		}
		return nil
	})
}

// TestTextLogsNameTheGroupOnce: no log line, the consumer's or franz-go's,
// says group= twice.
func TestTextLogsNameTheGroupOnce(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("textlog", 1))
	c.Produce(t, &kgo.Record{Topic: "textlog", Value: []byte("x")})
	var logs logBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var seen log
	r := start(t, c.Config(), func(cs *consumer.Consumer) error { return cs.Subscribe("textlog", true, seen.handler()) },
		consumer.Logger(logger))
	waitLen(t, &seen, 1)
	r.stop(t)
	groupLines := 0
	for _, l := range logs.lines() {
		switch strings.Count(l, " group=") {
		case 0:
		case 1:
			groupLines++
		default:
			t.Errorf("group logged twice: %s", l)
		}
	}
	if groupLines == 0 {
		t.Error("no line names the group")
	}
}

// TestCloseAwaitsParkingRebuild: a consumer closed while it rebuilds its
// parked keys from the retry topics (the retry topic's offsets refused,
// so the rebuild keeps retrying) has ended the rebuild by the time Close returns.
func TestCloseAwaitsParkingRebuild(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("rb", 1))
	c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.ListOffsets}, Topic: "rb-retry-1000", Err: kerr.TopicAuthorizationFailed, Count: -1})
	cs, err := consumer.New(rangeConfig(c))
	if err != nil {
		t.Fatal(err)
	}
	policy := consumer.Policy(consumer.RetryTopics(time.Second))
	if err := cs.Subscribe("rb", true, consumer.HandlerFunc(func(context.Context, *consumer.Message) error { return nil }), consumer.Failures(policy)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cs.Run(ctx) }()
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if !goroutineIn("consumer.(*Consumer).rebuildParking") {
			return errors.New("the rebuild has not started")
		}
		return nil
	})
	cancel()
	if err := cs.Close(); err != nil {
		t.Log(err)
	}
	if goroutineIn("consumer.(*Consumer).rebuildParking") {
		t.Error("a parking rebuild still runs after Close returned")
	}
	<-done
}

// goroutineIn reports whether a goroutine's stack has fn in it now.
func goroutineIn(fn string) bool {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Contains(string(buf[:n]), fn)
		}
		buf = make([]byte, 2*len(buf))
	}
}
