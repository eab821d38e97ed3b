package metrics

import (
	"github.com/kafkakit/kafkakit/idempotency"
	"github.com/prometheus/client_golang/prometheus"
)

// WatchIdempotency exports what an Idempotency-Key store holds, read from
// stats at scrape time: kafkakit_idempotency_keys and
// kafkakit_idempotency_bytes (gauges), and
// kafkakit_idempotency_evicted_total and
// kafkakit_idempotency_records_skipped_total (counters). stats may return
// the zero value while no store is open. Call it once per registry.
func (m *Metrics) WatchIdempotency(stats func() idempotency.Stats) error {
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "idempotency_keys",
			Help: "Idempotency-Keys held in memory: in flight, or answered within HTTP_IDEMPOTENCY_TTL."},
			func() float64 { return float64(stats().Keys) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "idempotency_bytes",
			Help: "Approximate memory the Idempotency-Keys hold: names, fingerprints and stored answers."},
			func() float64 { return float64(stats().Bytes) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Name: "idempotency_evicted_total",
			Help: "Idempotency-Keys dropped, oldest first, to stay within HTTP_IDEMPOTENCY_MAX_KEYS and HTTP_IDEMPOTENCY_MAX_BYTES; a repeat of one is processed as a new request."},
			func() float64 { return float64(stats().Evicted) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Name: "idempotency_records_skipped_total",
			Help: "Records of the Idempotency-Key topic that did not decode and were skipped (each logged at WARN)."},
			func() float64 { return float64(stats().Skipped) }),
	} {
		if err := m.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
