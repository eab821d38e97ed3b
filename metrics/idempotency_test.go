package metrics_test

import (
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/idempotency"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// The store's numbers are read at scrape time, from an open store.
func TestWatchIdempotency(t *testing.T) {
	c := kafkatest.NewCluster(t)
	store, err := idempotency.Open(t.Context(), c.Config(), time.Hour, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.WatchIdempotency(store.Stats); err != nil {
		t.Fatal(err)
	}
	if err := m.WatchIdempotency(store.Stats); err == nil {
		t.Error("watching twice on one registry: no error")
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, mf := range mfs {
		got[mf.GetName()] = true
		if len(mf.Metric) != 1 {
			t.Errorf("%s: %d series, want 1", mf.GetName(), len(mf.Metric))
		}
	}
	for _, name := range []string{"kafkakit_idempotency_keys", "kafkakit_idempotency_bytes",
		"kafkakit_idempotency_evicted_total", "kafkakit_idempotency_records_skipped_total"} {
		if !got[name] {
			t.Errorf("%s not gathered", name)
		}
	}
}
