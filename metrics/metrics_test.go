package metrics_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/metrics"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/kafkakit/kafkakit/tracing"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func TestTopicLabelsAreBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range metrics.MaxTopics + 100 {
		m.Sent(fmt.Sprintf("topic-%d", i), nil, time.Millisecond)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "kafkakit_messages_produced_total" {
			topics := map[string]bool{}
			for _, m := range mf.Metric {
				for _, l := range m.Label {
					if l.GetName() == "topic" {
						topics[l.GetValue()] = true
					}
				}
			}
			if len(topics) != metrics.MaxTopics+1 || !topics["other"] {
				t.Errorf("%d topic label values, want %d topics and other", len(topics), metrics.MaxTopics)
			}
			return
		}
	}
	t.Fatal("kafkakit_messages_produced_total not gathered")
}

func TestNewTwiceOnOneRegistryFails(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := metrics.New(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := metrics.New(reg); err == nil {
		t.Error("registering twice on one registry: no error")
	}
}

// BenchmarkProduceObservability measures what metrics and tracing cost on
// the produce path: the same sends with neither, each, and both, in one
// run on the same broker. Compare the variants' ns/op.
func BenchmarkProduceObservability(b *testing.B) {
	c, err := kafkatest.Start(kafkatest.Topic("bench", 6))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	value := make([]byte, 256)
	variants := []struct {
		name             string
		metrics, tracing bool
	}{
		{"off", false, false},
		{"metrics", true, false},
		{"tracing", false, true},
		{"both", true, true},
	}
	for _, mode := range []string{"sync", "async"} {
		for _, v := range variants {
			b.Run(mode+"/"+v.name, func(b *testing.B) {
				opts := []producer.Option{producer.Logger(slog.New(slog.DiscardHandler))}
				if v.metrics {
					m, err := metrics.New(prometheus.NewRegistry())
					if err != nil {
						b.Fatal(err)
					}
					opts = append(opts, producer.Observe(m), producer.ClientOpts(m.ClientOpts("producer")))
				}
				if v.tracing {
					tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
					defer tp.Shutdown(context.Background())
					opts = append(opts, producer.ClientOpts(tracing.New(tp, propagation.TraceContext{}).ClientOpts()))
				}
				p, err := producer.New(c.Config(), opts...)
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				ctx := context.Background()
				msg := producer.Message{Topic: "bench", Value: value}
				if _, err := p.Send(ctx, msg); err != nil { // connect and learn the topic first
					b.Fatal(err)
				}
				b.SetBytes(int64(len(value)))
				b.ReportAllocs()
				b.ResetTimer()
				if mode == "sync" {
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if _, err := p.Send(ctx, msg); err != nil {
								b.Error(err)
								return
							}
						}
					})
					return
				}
				var wg sync.WaitGroup
				wg.Add(b.N)
				for range b.N {
					p.SendAsync(ctx, msg, func(r producer.Result) {
						if r.Err != nil {
							b.Error(r.Err)
						}
						wg.Done()
					})
				}
				wg.Wait()
			})
		}
	}
}

// describing is a Registerer that keeps the names of what is registered.
type describing struct{ names map[string]bool }

func (d *describing) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	for desc := range ch {
		// A Desc says its name only in its String: Desc{fqName: "...", ...}.
		_, rest, _ := strings.Cut(desc.String(), `fqName: "`)
		name, _, _ := strings.Cut(rest, `"`)
		d.names[name] = true
	}
	return nil
}

func (d *describing) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = d.Register(c)
	}
}

func (d *describing) Unregister(prometheus.Collector) bool { return false }

// TestNamesReadBackAreRegistered: the metrics the admin API's live figures
// read back by name (and the console draws) are among those New
// registers, under those names.
func TestNamesReadBackAreRegistered(t *testing.T) {
	d := &describing{names: map[string]bool{}}
	if _, err := metrics.New(d); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{metrics.NameMessagesProduced, metrics.NameMessagesHandled, metrics.NameHTTPRequests, metrics.NameConsumerLag} {
		if !d.names[name] {
			t.Errorf("%s is not registered; registered: %v", name, d.names)
		}
	}
}
