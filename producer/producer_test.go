package producer_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newProducer(t *testing.T, c *kafkatest.Cluster) *producer.Producer {
	t.Helper()
	p, err := producer.New(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestSendRoundTrip(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 4))
	p := newProducer(t, c)
	ts := time.Date(2026, 11, 27, 10, 0, 0, 123e6, time.UTC)
	msgs := []producer.Message{
		{Topic: "orders", Key: []byte("k1"), Value: []byte(`{"n":1}`),
			Headers:   []producer.Header{{Key: "source", Value: []byte("svc")}, {Key: "source", Value: []byte("again")}, {Key: "empty"}},
			Partition: new(int32(2)), Timestamp: ts},
		{Topic: "orders", Key: []byte("k2"), Value: nil, Partition: new(int32(2)), Timestamp: ts}, // tombstone
		{Topic: "orders", Key: nil, Value: []byte{}, Partition: new(int32(2)), Timestamp: ts},     // null key, empty value
		{Topic: "orders", Key: []byte{0, 1, 2}, Value: []byte{0xff, 0xfe}, Partition: new(int32(2)), Timestamp: ts},
	}
	for i, m := range msgs {
		res, err := p.Send(t.Context(), m)
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if res.Topic != "orders" || res.Partition != 2 || res.Offset != int64(i) || !res.Timestamp.Equal(ts) {
			t.Errorf("send %d: got %+v, want orders/2 at offset %d, timestamp %v", i, res, i, ts)
		}
	}
	got := c.ReadAll(t, "orders", len(msgs), 10*time.Second)
	for i, r := range got {
		want := msgs[i]
		if r.Partition != 2 || r.Offset != int64(i) || !r.Timestamp.Equal(ts) {
			t.Errorf("record %d: got partition %d offset %d timestamp %v", i, r.Partition, r.Offset, r.Timestamp)
		}
		if (r.Key == nil) != (want.Key == nil) || string(r.Key) != string(want.Key) {
			t.Errorf("record %d: got key %q (nil %v), want %q (nil %v)", i, r.Key, r.Key == nil, want.Key, want.Key == nil)
		}
		if (r.Value == nil) != (want.Value == nil) || string(r.Value) != string(want.Value) {
			t.Errorf("record %d: got value %q (nil %v), want %q (nil %v)", i, r.Value, r.Value == nil, want.Value, want.Value == nil)
		}
		if diff := cmp.Diff(headerStrings(want.Headers), headerStrings(r.Headers)); diff != "" {
			t.Errorf("record %d headers (-want +got):\n%s", i, diff)
		}
	}
}

func headerStrings(hs []kgo.RecordHeader) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.Key+"="+string(h.Value))
	}
	return out
}

// TestKeyedPartitioningMatchesJava checks that keys land where the Java
// client's murmur2 partitioner puts them, using Kafka's own murmur2 test
// vectors (UtilsTest.testMurmur2).
func TestKeyedPartitioningMatchesJava(t *testing.T) {
	kafkatest.Parallel(t)
	const partitions = 7
	c := kafkatest.NewCluster(t, kafkatest.Topic("keyed", partitions))
	p := newProducer(t, c)
	for _, tt := range []struct {
		key  string
		hash int32
	}{
		{"21", -973932308},
		{"foobar", -790332482},
		{"a-little-bit-long-string", -985981536},
		{"a-little-bit-longer-string", -1486304829},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
		{"abc", 479470107},
	} {
		want := int32(uint32(tt.hash)&0x7fffffff) % partitions
		res, err := p.Send(t.Context(), producer.Message{Topic: "keyed", Key: []byte(tt.key), Value: []byte("v")})
		if err != nil {
			t.Fatal(err)
		}
		if res.Partition != want {
			t.Errorf("key %q: got partition %d, want %d", tt.key, res.Partition, want)
		}
	}
}

func TestSendInvalidPartition(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("small", 2))
	p := newProducer(t, c)
	for _, part := range []int32{2, 100, -1} {
		_, err := p.Send(t.Context(), producer.Message{Topic: "small", Value: []byte("v"), Partition: new(part)})
		if !errors.Is(err, producer.ErrInvalidPartition) {
			t.Errorf("partition %d: got %v, want ErrInvalidPartition", part, err)
		}
		var se *producer.SendError
		if !errors.As(err, &se) || se.Topic != "small" || se.Partition != part {
			t.Errorf("partition %d: got %#v, want a *SendError naming small/%d", part, err, part)
		}
	}
	if _, err := p.Send(t.Context(), producer.Message{Value: []byte("v")}); !errors.Is(err, producer.ErrNoTopic) {
		t.Errorf("no topic: got %v, want ErrNoTopic", err)
	}
}

func TestSendBatchKeepsOrderAndReportsEach(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("batch", 3))
	p := newProducer(t, c)
	var msgs []producer.Message
	for i := range 300 {
		msgs = append(msgs, producer.Message{Topic: "batch", Key: []byte(fmt.Sprint("k", i%10)), Value: []byte(fmt.Sprint(i))})
	}
	msgs[17] = producer.Message{Topic: "batch", Value: []byte("bad"), Partition: new(int32(9))}
	results, err := p.SendBatch(t.Context(), msgs)
	var be *producer.BatchError
	if !errors.As(err, &be) || be.Failed != 1 || be.Total != 300 {
		t.Fatalf("got %v, want a BatchError with 1 of 300 failed", err)
	}
	if len(results) != len(msgs) {
		t.Fatalf("got %d results, want %d", len(results), len(msgs))
	}
	lastOffset := map[int32]int64{}
	for i, r := range results {
		if i == 17 {
			if !errors.Is(r.Err, producer.ErrInvalidPartition) {
				t.Errorf("result 17: got %v, want ErrInvalidPartition", r.Err)
			}
			continue
		}
		if r.Err != nil {
			t.Fatalf("result %d: %v", i, r.Err)
		}
		if prev, ok := lastOffset[r.Partition]; ok && r.Offset <= prev {
			t.Errorf("result %d: offset %d on partition %d not after %d: order lost", i, r.Offset, r.Partition, prev)
		}
		lastOffset[r.Partition] = r.Offset
	}
	recs := c.ReadToEnd(t, "batch")
	if len(recs) != 299 {
		t.Errorf("topic holds %d records, want 299", len(recs))
	}
}

func TestSendAsyncCallsBackOnce(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("async", 1))
	p := newProducer(t, c)
	const n = 1000
	var mu sync.Mutex
	calls := map[int]int{}
	var wg sync.WaitGroup
	wg.Add(n)
	for i := range n {
		p.SendAsync(t.Context(), producer.Message{Topic: "async", Value: []byte(fmt.Sprint(i))}, func(r producer.Result) {
			defer wg.Done()
			if r.Err != nil {
				t.Errorf("message %d: %v", i, r.Err)
			}
			mu.Lock()
			calls[i]++
			mu.Unlock()
		})
	}
	wg.Wait()
	for i := range n {
		if calls[i] != 1 {
			t.Fatalf("message %d: callback called %d times, want 1", i, calls[i])
		}
	}
	if err := p.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestSendJSON(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("events", 1))
	p := newProducer(t, c)
	if _, err := p.SendJSON(t.Context(), "events", "user-123", map[string]any{"userId": "123", "type": "user_created"}); err != nil {
		t.Fatal(err)
	}
	r := c.ReadAll(t, "events", 1, 10*time.Second)[0]
	if string(r.Key) != "user-123" || string(r.Value) != `{"type":"user_created","userId":"123"}` {
		t.Errorf("got key %q value %q", r.Key, r.Value)
	}
	if _, err := p.SendJSON(t.Context(), "events", "", func() {}); err == nil {
		t.Error("sending a func as JSON: got no error")
	}
}

func TestSendAfterCloseFails(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t)
	p := newProducer(t, c)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Send(t.Context(), producer.Message{Topic: "t", Value: []byte("v")}); !errors.Is(err, producer.ErrClosed) {
		t.Errorf("got %v, want ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestSendContextEndsWait checks that a send to an unresponsive broker
// returns when its context ends instead of hanging.
func TestSendContextEndsWait(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("stuck", 1))
	p := newProducer(t, c)
	if _, err := p.Send(t.Context(), producer.Message{Topic: "stuck", Value: []byte("warm")}); err != nil {
		t.Fatal(err)
	}
	holdProduce(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err := p.Send(ctx, producer.Message{Topic: "stuck", Value: []byte("v")})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want context.DeadlineExceeded", err)
	}
}

func TestEnforceRequestTimeout(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("slow", 1))
	cfg := c.Config()
	cfg.EnforceRequestTimeout = true
	cfg.RequestTimeout = 300 * time.Millisecond
	p, err := producer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	defer holdProduce(t, c)() // released before Close flushes
	_, err = p.Send(context.Background(), producer.Message{Topic: "slow", Value: []byte("v")})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want context.DeadlineExceeded after KAFKA_REQUEST_TIMEOUT", err)
	}
}

// TestRetriableBrokerErrorsWriteOnce injects retriable produce errors and
// checks that idempotent retries write each record exactly once.
func TestRetriableBrokerErrorsWriteOnce(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("flaky", 3))
	// NOT_LEADER makes the client refresh metadata before retrying; let it
	// do so at once rather than after franz-go's 5s minimum.
	p, err := producer.New(c.Config(), producer.ClientOpts(kgo.MetadataMinAge(10*time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, code := range []*kerr.Error{kerr.NotLeaderForPartition, kerr.RequestTimedOut, kerr.NotEnoughReplicas} { // each fails two requests
		c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "flaky", Err: code, Count: 2})
	}
	var msgs []producer.Message
	for i := range 100 {
		msgs = append(msgs, producer.Message{Topic: "flaky", Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint(i))})
	}
	if _, err := p.SendBatch(t.Context(), msgs); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range c.ReadToEnd(t, "flaky") {
		seen[string(r.Value)]++
	}
	for i := range 100 {
		if n := seen[fmt.Sprint(i)]; n != 1 {
			t.Errorf("message %d written %d times, want 1", i, n)
		}
	}
	if len(seen) != 100 {
		t.Errorf("got %d distinct messages, want 100", len(seen))
	}
}

// TestDeliveryTimeoutFailsUnsendable checks that a message that cannot be
// sent (the cluster is gone) fails once KAFKA_DELIVERY_TIMEOUT passes,
// through the asynchronous callback too, even with a timestamp far in the
// past.
func TestDeliveryTimeoutFailsUnsendable(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t)
	cfg := c.Config()
	cfg.DeliveryTimeout = 500 * time.Millisecond
	p, err := producer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c.Fake().Close()
	done := make(chan producer.Result, 1)
	p.SendAsync(t.Context(), producer.Message{Topic: "gone", Value: []byte("v"), Timestamp: time.Unix(0, 0)}, func(r producer.Result) { done <- r })
	select {
	case r := <-done:
		if !errors.Is(r.Err, context.DeadlineExceeded) {
			t.Errorf("got %v, want context.DeadlineExceeded", r.Err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no callback 30s after a 500ms delivery timeout")
	}
}

// warmProducer returns a producer for cfg that has already delivered a
// message to topic, so that connections and metadata are in place.
func warmProducer(t *testing.T, cfg config.Kafka, topic string, opts ...producer.Option) *producer.Producer {
	t.Helper()
	p, err := producer.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if _, err := p.Send(t.Context(), producer.Message{Topic: topic, Value: []byte("warm")}); err != nil {
		t.Fatal(err)
	}
	return p
}

// holdProduce makes the cluster hold every produce request until the
// returned function is called.
func holdProduce(t *testing.T, c *kafkatest.Cluster) (release func()) {
	t.Helper()
	ch := make(chan struct{})
	c.Fake().ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.Fake().KeepControl()
		<-ch
		return nil, nil, false
	})
	var once sync.Once
	release = func() { once.Do(func() { close(ch) }) }
	t.Cleanup(release)
	return release
}

func TestBufferLimit(t *testing.T) {
	kafkatest.Parallel(t)
	kafkatest.RequireFake(t, "it holds produce requests with ControlKey")
	c := kafkatest.NewCluster(t, kafkatest.Topic("full", 1))
	cfg := c.Config()
	cfg.MaxBufferedRecords = 5

	t.Run("non-blocking refuses at once", func(t *testing.T) {
		p := warmProducer(t, cfg, "full", producer.NonBlocking())
		release := holdProduce(t, c)
		results := make(chan producer.Result, 10)
		for range 10 {
			p.SendAsync(t.Context(), producer.Message{Topic: "full", Value: []byte("v")}, func(r producer.Result) { results <- r })
		}
		var refused int
		for range 5 { // the five beyond the limit answer at once
			r := <-results
			if !errors.Is(r.Err, producer.ErrBufferFull) {
				t.Fatalf("got %v, want ErrBufferFull", r.Err)
			}
			refused++
		}
		release()
		for range 5 {
			if r := <-results; r.Err != nil {
				t.Errorf("buffered message: %v", r.Err)
			}
		}
		if refused != 5 {
			t.Errorf("%d refused, want 5", refused)
		}
	})

}

// TestFullBufferWaitEndsWithCaller: a synchronous send waiting for room
// gives up when its context ends, by records or by bytes, and never enters
// the client with that context, where its end could fail other messages.
func TestFullBufferWaitEndsWithCaller(t *testing.T) {
	kafkatest.Parallel(t)
	for _, tt := range []struct {
		name  string
		limit func(*config.Kafka)
		fill  int // bytes of each filling message
	}{
		{"records", func(k *config.Kafka) { k.MaxBufferedRecords = 2 }, 10},
		{"bytes", func(k *config.Kafka) { k.MaxBufferedBytes = 1000 }, 450},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := kafkatest.NewCluster(t, kafkatest.Topic("room", 1))
			cfg := c.Config()
			tt.limit(&cfg)
			p := warmProducer(t, cfg, "room")
			release := holdProduce(t, c)
			fills := make(chan producer.Result, 2)
			for range 2 {
				p.SendAsync(t.Context(), producer.Message{Topic: "room", Value: make([]byte, tt.fill)}, func(r producer.Result) { fills <- r })
			}
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := p.Send(ctx, producer.Message{Topic: "room", Value: make([]byte, 200)})
			if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
				t.Errorf("got %v after %v, want the wait to end with the context", err, time.Since(start))
			}
			if n := p.Client().BufferedProduceRecords(); n != 2 {
				t.Errorf("%d records buffered, want the 2 fills: the refused send must not be buffered", n)
			}
			release()
			for range 2 {
				if r := <-fills; r.Err != nil {
					t.Errorf("buffered message: %v", r.Err)
				}
			}
		})
	}
}

func TestCloseFailsUnsentWithErrClosed(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("closing", 1))
	p := warmProducer(t, c.Config(), "closing")
	c.Fake().Close() // nothing more can be delivered
	done := make(chan producer.Result, 1)
	p.SendAsync(t.Context(), producer.Message{Topic: "closing", Value: []byte("v")}, func(r producer.Result) { done <- r })
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := p.CloseContext(ctx); err == nil {
		t.Error("CloseContext with an unsendable message: no error")
	}
	if r := <-done; !errors.Is(r.Err, producer.ErrClosed) {
		t.Errorf("unsent message failed with %v, want ErrClosed", r.Err)
	}
}

// valueHook records, for each produced record, a value of its context.
type valueHook struct {
	mu   sync.Mutex
	seen []any
}

func (h *valueHook) OnProduceRecordBuffered(r *kgo.Record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen = append(h.seen, r.Context.Value(hookKey{}))
}

type hookKey struct{}

// A hook that sees records, or a partitioner of the caller's, gets the
// caller's context values, while the caller's cancellation stays out of
// the client.
func TestRecordReadersSeeCallerValues(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("hooked", 1))
	hook := &valueHook{}
	part := &valuePartitioner{hook: &valueHook{}}
	for name, opt := range map[string]kgo.Opt{"hook": kgo.WithHooks(hook), "partitioner": kgo.RecordPartitioner(part)} {
		p, err := producer.New(c.Config(), producer.ClientOpts(opt))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.WithValue(t.Context(), hookKey{}, "request-7"))
		if _, err := p.Send(ctx, producer.Message{Topic: "hooked", Value: []byte("v")}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cancel()
		p.Close()
	}
	for name, h := range map[string]*valueHook{"hook": hook, "partitioner": part.hook} {
		h.mu.Lock()
		if len(h.seen) != 1 || h.seen[0] != "request-7" {
			t.Errorf("the %s saw %v, want [request-7]", name, h.seen)
		}
		h.mu.Unlock()
	}
}

// valuePartitioner puts every record in partition 0, recording a value of
// its context.
type valuePartitioner struct{ hook *valueHook }

func (p *valuePartitioner) ForTopic(string) kgo.TopicPartitioner { return p }
func (p *valuePartitioner) RequiresConsistency(*kgo.Record) bool { return true }
func (p *valuePartitioner) Partition(r *kgo.Record, _ int) int {
	p.hook.OnProduceRecordBuffered(r)
	return 0
}
