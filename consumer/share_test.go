package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

// runningShare is a share consumer whose Run is in a goroutine.
type runningShare struct {
	c      *consumer.ShareConsumer
	cancel context.CancelFunc
	done   chan error
}

// startShare runs a share consumer of cfg's group on topic with h,
// stopping it (Run returns, then Close) when the test ends.
func startShare(t *testing.T, cfg config.Kafka, topic string, h consumer.Handler, opts ...consumer.Option) *runningShare {
	t.Helper()
	c, err := consumer.NewShare(cfg, append([]consumer.Option{consumer.ShareFromBeginning()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(topic, h); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningShare{c: c, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Run did not return 30s after its context ended")
		}
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

// shareCluster is a cluster on which group delivers a record at most
// limit times and holds a record's lock for lock.
func shareCluster(t *testing.T, group string, limit int, lock time.Duration) *kafkatest.Cluster {
	t.Helper()
	c := kafkatest.NewCluster(t)
	c.ShareGroupLimits(t, group, limit, lock)
	return c
}

// TestShareConcurrencyPastPartitions shows one partition handled by many
// handlers at once, which a consumer group's member never does across
// keys beyond its KeyConcurrency, and every record accepted once when
// nothing fails.
func TestShareConcurrencyPastPartitions(t *testing.T) {
	const topic, group, n, conc = "share-conc", "share-conc-g", 400, 16
	c := shareCluster(t, group, 5, 30*time.Second)
	c.CreateTopic(t, topic, 1)
	produceN(t, c, topic, n, 1)
	var (
		mu       sync.Mutex
		seen     = map[int64]int{}
		now, top atomic.Int64
	)
	h := consumer.HandlerFunc(func(ctx context.Context, msg *consumer.Message) error {
		cur := now.Add(1)
		defer now.Add(-1)
		for old := top.Load(); cur > old && !top.CompareAndSwap(old, cur); old = top.Load() {
		}
		// Hold the handler until others join it, or a moment passes: a
		// fetch's records are handed out together.
		deadline := time.Now().Add(20 * time.Millisecond)
		for now.Load() < conc && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		mu.Lock()
		seen[msg.Offset]++
		mu.Unlock()
		return nil
	})
	cfg := c.Config()
	cfg.GroupID = group
	startShare(t, cfg, topic, h, consumer.ShareConcurrency(conc))
	kafkatest.WaitFor(t, 60*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(seen) < n {
			return fmt.Errorf("%d of %d records handled", len(seen), n)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	for off, k := range seen {
		if k != 1 {
			t.Errorf("offset %d handled %d times, want once", off, k)
		}
	}
	if got := top.Load(); got < 2 || got > conc {
		t.Errorf("at most %d handlers ran at once on one partition, want between 2 and %d", got, conc)
	}
	t.Logf("handlers at once on one partition: up to %d", top.Load())
}

// TestSharePoisonDeadLettered: a record whose handler always fails is
// delivered as often as the group allows, no more, and its last delivery
// dead-letters it with the attempts; the others are accepted.
func TestSharePoisonDeadLettered(t *testing.T) {
	const topic, group, limit = "share-poison", "share-poison-g", 3
	c := shareCluster(t, group, limit, 30*time.Second)
	c.CreateTopic(t, topic, 1)
	c.CreateTopic(t, topic+".dlq", 1)
	produceN(t, c, topic, 10, 1)
	var mu sync.Mutex
	calls := map[string][]int{}
	h := consumer.HandlerFunc(func(ctx context.Context, msg *consumer.Message) error {
		mu.Lock()
		calls[string(msg.Key)] = append(calls[string(msg.Key)], msg.Attempt)
		mu.Unlock()
		switch string(msg.Key) {
		case "3":
			return errors.New("poison")
		case "7":
			return consumer.Permanent(errors.New("cannot parse"))
		}
		return nil
	})
	cfg := c.Config()
	cfg.GroupID = group
	cfg.HandlerMaxRetries = 9 // more than the group allows: the group's limit wins
	startShare(t, cfg, topic, h, consumer.ShareConcurrency(4))
	dead := c.ReadAll(t, topic+".dlq", 2, 60*time.Second)
	byKey := map[string]*kgo.Record{}
	for _, r := range dead {
		byKey[string(r.Key)] = r
	}
	for key, attempts := range map[string]string{"3": strconv.Itoa(limit), "7": "1"} {
		r := byKey[key]
		if r == nil {
			t.Fatalf("no dead letter for key %s; got keys %v", key, keys(byKey))
		}
		if got := header(r, consumer.HeaderAttempts); got != attempts {
			t.Errorf("key %s: %s = %q, want %q", key, consumer.HeaderAttempts, got, attempts)
		}
		if got := header(r, consumer.HeaderOriginalConsumerGroup); got != group {
			t.Errorf("key %s: %s = %q, want %q", key, consumer.HeaderOriginalConsumerGroup, got, group)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if got := fmt.Sprint(calls["3"]); got != "[1 2 3]" {
		t.Errorf("poison record's deliveries: %s, want [1 2 3]", got)
	}
	if got := fmt.Sprint(calls["7"]); got != "[1]" {
		t.Errorf("permanent failure's deliveries: %s, want [1]", got)
	}
}

func keys(m map[string]*kgo.Record) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func header(r *kgo.Record, key string) string {
	for i := len(r.Headers) - 1; i >= 0; i-- {
		if r.Headers[i].Key == key {
			return string(r.Headers[i].Value)
		}
	}
	return ""
}

// TestShareSlowHandlerKeepsRecord: a handler that takes more than twice
// the lock keeps its record, renewed, while a second member of the group
// waits for work: it is delivered once.
func TestShareSlowHandlerKeepsRecord(t *testing.T) {
	kafkatest.RequireFake(t, "Apache Kafka holds a lock for 15s at least, so the test would take a minute")
	const topic, group = "share-slow", "share-slow-g"
	lock := time.Second
	c := shareCluster(t, group, 5, lock)
	c.CreateTopic(t, topic, 1)
	c.Produce(t, &kgo.Record{Topic: topic, Key: []byte("slow"), Value: []byte("v")})
	var deliveries atomic.Int32
	finished := make(chan struct{})
	h := consumer.HandlerFunc(func(ctx context.Context, msg *consumer.Message) error {
		if deliveries.Add(1) > 1 {
			return nil
		}
		// The work itself: longer than two locks.
		select {
		case <-time.After(lock*2 + lock/2):
		case <-ctx.Done():
			return ctx.Err()
		}
		close(finished)
		return nil
	})
	cfg := c.Config()
	cfg.GroupID = group
	startShare(t, cfg, topic, h)
	startShare(t, cfg, topic, h)
	select {
	case <-finished:
	case <-time.After(30 * time.Second):
		t.Fatal("the slow handler did not finish")
	}
	// Had a lock run out, the record would have gone to the other member
	// (or this one) meanwhile; let a further lock and sweep pass too.
	deadline := time.After(lock + 500*time.Millisecond)
	for {
		select {
		case <-deadline:
			if got := deliveries.Load(); got != 1 {
				t.Fatalf("the slow record was delivered %d times, want once", got)
			}
			return
		case <-time.After(50 * time.Millisecond):
			if got := deliveries.Load(); got != 1 {
				t.Fatalf("the slow record was delivered %d times, want once", got)
			}
		}
	}
}

// TestShareUnsupportedCluster: a cluster without share groups stops Run
// at once with an error naming what the cluster lacks: brokers older than
// share groups (kfake as Kafka 3.9), or the share.version feature turned
// off (on Apache Kafka too, turned on again after).
func TestShareUnsupportedCluster(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T) *kafkatest.Cluster
		want  string
	}{
		{"kafka 3.9", func(t *testing.T) *kafkatest.Cluster {
			return kafkatest.NewCluster(t, kafkatest.KfakeOpts(kfake.MaxVersions(kversion.V3_9_0())))
		}, "no ShareGroupHeartbeat API"},
		{"share.version off", func(t *testing.T) *kafkatest.Cluster {
			c := kafkatest.NewCluster(t)
			setShareVersion(t, c, 0)
			t.Cleanup(func() { setShareVersion(t, c, 1) })
			return c
		}, "share.version feature is 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.setup(t)
			cfg := c.Config()
			cfg.GroupID = "share-unsupported"
			sc, err := consumer.NewShare(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer sc.Close()
			if err := sc.Subscribe("t", consumer.HandlerFunc(func(context.Context, *consumer.Message) error { return nil })); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			err = sc.Run(ctx)
			if !errors.Is(err, consumer.ErrShareGroupsUnsupported) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run: got %v, want ErrShareGroupsUnsupported naming %q", err, tt.want)
			}
			if ctx.Err() != nil {
				t.Fatal("Run waited for its context instead of failing at once")
			}
		})
	}
}

// setShareVersion sets the cluster's share.version feature to level and
// waits until a broker says so.
func setShareVersion(t *testing.T, c *kafkatest.Cluster, level int16) {
	t.Helper()
	cl := c.Client(t)
	upgrade := int8(1)
	if level == 0 {
		upgrade = 2 // a safe downgrade
	}
	// Not t.Context(): the cleanup that turns it on again runs after it ends.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).UpdateFeatures(ctx, false,
		kadm.FeatureUpdate{Feature: "share.version", MaxVersionLevel: level, UpgradeType: upgrade})
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("set share.version to %d: %v", level, err)
	}
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		err := consumer.CheckShareGroups(ctx, cl)
		if got := err == nil; got != (level > 0) {
			return fmt.Errorf("share.version %d not in effect yet: %v", level, err)
		}
		return nil
	})
}

// TestShareBadOptions: settings a share group cannot honour are errors.
func TestShareBadOptions(t *testing.T) {
	cfg := config.Default()
	if _, err := consumer.NewShare(cfg, consumer.ShareConcurrency(0)); err == nil {
		t.Error("NewShare with concurrency 0: no error")
	}
	sc, err := consumer.NewShare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	h := consumer.HandlerFunc(func(context.Context, *consumer.Message) error { return nil })
	tests := []struct {
		name  string
		topic string
		h     consumer.Handler
		opts  []consumer.SubscribeOption
	}{
		{"empty topic", "", h, nil},
		{"nil handler", "t", nil, nil},
		{"key concurrency", "t", h, []consumer.SubscribeOption{consumer.KeyConcurrency(4)}},
		{"failure policy", "t", h, []consumer.SubscribeOption{consumer.Failures(consumer.Policy(consumer.SkipAndLog()))}},
		{"negative retries", "t", h, []consumer.SubscribeOption{consumer.Retries(-1)}},
		{"dead letters to itself", "t", h, []consumer.SubscribeOption{consumer.DeadLetterTopic("t")}},
	}
	for _, tt := range tests {
		if err := sc.Subscribe(tt.topic, tt.h, tt.opts...); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	if err := sc.Subscribe("t", h); err != nil {
		t.Fatal(err)
	}
	if err := sc.Subscribe("t", h); err == nil {
		t.Error("second subscription of a topic: no error")
	}
}
