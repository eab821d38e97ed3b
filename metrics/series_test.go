package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/metrics"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

var quiet = slog.New(slog.DiscardHandler)

// sum gathers reg and adds up the samples of family name whose labels
// include want; found says whether any sample matched.
func sum(t *testing.T, reg prometheus.Gatherer, name string, want map[string]string) (total float64, found bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			if !hasLabels(m, want) {
				continue
			}
			found = true
			switch {
			case m.Counter != nil:
				total += m.Counter.GetValue()
			case m.Gauge != nil:
				total += m.Gauge.GetValue()
			}
		}
	}
	return total, found
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.Label {
		if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
			n++
		}
	}
	return n == len(want)
}

func newMetrics(t *testing.T) (*prometheus.Registry, *metrics.Metrics) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	return reg, m
}

func newConsumer(t *testing.T, c *kafkatest.Cluster, m *metrics.Metrics, group, topic string, h consumer.Handler) *consumer.Consumer {
	t.Helper()
	cs, err := consumer.New(c.Config(), consumer.Logger(quiet), consumer.Group(group), consumer.Observe(m),
		consumer.ClientOpts(m.ClientOpts("consumer")))
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.Subscribe(topic, true, h); err != nil {
		t.Fatal(err)
	}
	runConsumer(t, cs)
	return cs
}

// runConsumer runs cs until the test ends, then closes it.
func runConsumer(t *testing.T, cs *consumer.Consumer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cs.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		cs.Close()
	})
}

// TestClientsOfOneRoleShareARegistry: two producers and two consumers with
// one role each on one registry start (no duplicate registration panic),
// work, and are counted in the role's client metrics; closing one client
// leaves the other's metrics in place.
func TestClientsOfOneRoleShareARegistry(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("shared", 1))
	reg, m := newMetrics(t)
	var ps []*producer.Producer
	for range 2 {
		p, err := producer.New(c.Config(), producer.Logger(quiet), producer.Observe(m), producer.ClientOpts(m.ClientOpts("producer")))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		ps = append(ps, p)
	}
	for i, p := range ps {
		for range 5 {
			if _, err := p.Send(t.Context(), producer.Message{Topic: "shared", Value: fmt.Appendf(nil, "from %d", i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// franz-go counts a written batch in a hook that may run just after
	// the records' promises, so the count is waited for.
	waitRecords := func(want float64, why string) {
		t.Helper()
		kafkatest.WaitFor(t, 10*time.Second, func() error {
			if got, _ := sum(t, reg, "kafkakit_produce_records_total", map[string]string{"role": "producer"}); got != want {
				return fmt.Errorf("produce_records_total{role=producer} = %v, want %v %s", got, want, why)
			}
			return nil
		})
	}
	waitRecords(10, "from both producers")
	ps[0].Close()
	if _, err := ps[1].Send(t.Context(), producer.Message{Topic: "shared", Value: []byte("after")}); err != nil {
		t.Fatal(err)
	}
	waitRecords(11, "after one producer closed")

	handled := make(chan string, 100)
	h := consumer.HandlerFunc(func(_ context.Context, msg *consumer.Message) error {
		handled <- string(msg.Value)
		return nil
	})
	newConsumer(t, c, m, "group-a", "shared", h)
	newConsumer(t, c, m, "group-b", "shared", h)
	for range 22 { // 11 messages, once per group
		select {
		case <-handled:
		case <-time.After(30 * time.Second):
			t.Fatal("the two consumers did not handle every message")
		}
	}
	if got, _ := sum(t, reg, "kafkakit_fetch_records_total", map[string]string{"role": "consumer"}); got < 22 {
		t.Errorf("fetch_records_total{role=consumer} = %v, want at least 22 from both consumers", got)
	}
}

// TestOnlySeriesThatCanHaveValues: a topic only produced to has no handler
// or dead-letter series; a consumed topic has handler series, and
// dead-letter ones only once something was dead-lettered. Each failure is
// counted once, in messages_handled_total.
func TestOnlySeriesThatCanHaveValues(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("out", 1), kafkatest.Topic("in", 1), kafkatest.Topic("in.dlq", 1))
	reg, m := newMetrics(t)
	p, err := producer.New(c.Config(), producer.Logger(quiet), producer.Observe(m))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, topic := range []string{"out", "in", "in"} {
		if _, err := p.Send(t.Context(), producer.Message{Topic: topic, Value: []byte(topic)}); err != nil {
			t.Fatal(err)
		}
	}
	handled := make(chan struct{}, 10)
	var failed bool
	h := consumer.HandlerFunc(func(context.Context, *consumer.Message) error {
		handled <- struct{}{}
		if !failed {
			failed = true
			return consumer.Permanent(errors.New("bad"))
		}
		return nil
	})
	newConsumer(t, c, m, "series", "in", h)
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if got, _ := sum(t, reg, "kafkakit_messages_handled_total", map[string]string{"topic": "in", "outcome": "ok"}); got != 1 {
			return fmt.Errorf("handled ok %v, want 1", got)
		}
		if got, _ := sum(t, reg, "kafkakit_messages_handled_total", map[string]string{"topic": "in", "outcome": "dead_lettered"}); got != 1 {
			return fmt.Errorf("dead_lettered %v, want 1", got)
		}
		return nil
	})
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		{"kafkakit_messages_produced_total", map[string]string{"topic": "out"}, true},
		{"kafkakit_messages_handled_total", map[string]string{"topic": "out"}, false},
		{"kafkakit_handler_duration_seconds", map[string]string{"topic": "out"}, false},
		{"kafkakit_handlers_in_flight", map[string]string{"topic": "out"}, false},
		{"kafkakit_dead_letter_errors_total", map[string]string{"topic": "out"}, false},
		{"kafkakit_handlers_in_flight", map[string]string{"topic": "in"}, true},
		{"kafkakit_messages_handled_total", map[string]string{"topic": "in", "outcome": "skipped"}, false},
		{"kafkakit_dead_letter_errors_total", map[string]string{"topic": "in"}, false},
		{"kafkakit_handler_retries_total", nil, false},
		{"kafkakit_dead_letters_total", nil, false},
	} {
		if _, found := sum(t, reg, tt.name, tt.labels); found != tt.want {
			t.Errorf("%s%v exported: %v, want %v", tt.name, tt.labels, found, tt.want)
		}
	}
}

// TestEmptyPartitionLagIsZero: a watched consumer's empty partition has a
// lag series, at 0.
func TestEmptyPartitionLagIsZero(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("idle", 1))
	reg, m := newMetrics(t)
	cs := newConsumer(t, c, m, "idle-group", "idle", consumer.HandlerFunc(func(context.Context, *consumer.Message) error { return nil }))
	m.WatchConsumer(cs)
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		lag, found := sum(t, reg, "kafkakit_consumer_lag", map[string]string{"group": "idle-group", "topic": "idle", "partition": "0"})
		if !found || lag != 0 {
			return fmt.Errorf("lag series found %v, value %v; want 0", found, lag)
		}
		return nil
	})
}
