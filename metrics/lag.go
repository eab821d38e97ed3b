package metrics

import (
	"strconv"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	lagDesc = prometheus.NewDesc(Namespace+"_consumer_lag",
		"Messages not yet handled and committed: high watermark minus committed offset, per assigned partition.",
		[]string{"group", "topic", "partition"}, nil)
	committedDesc = prometheus.NewDesc(Namespace+"_consumer_committed_offset",
		"The group's committed offset, per assigned partition.", []string{"group", "topic", "partition"}, nil)
	highWatermarkDesc = prometheus.NewDesc(Namespace+"_consumer_high_watermark",
		"The partition's high watermark as last seen, per assigned partition.", []string{"group", "topic", "partition"}, nil)
	readyDesc = prometheus.NewDesc(Namespace+"_consumer_ready",
		"1 when the consumer has joined its group.", []string{"group"}, nil)
)

// lagCollector reads the watched consumers' status at scrape time, so lag
// costs nothing between scrapes and asks nothing of the brokers.
type lagCollector struct{ m *Metrics }

func (l lagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- lagDesc
	ch <- committedDesc
	ch <- highWatermarkDesc
	ch <- readyDesc
}

func (l lagCollector) Collect(ch chan<- prometheus.Metric) {
	l.m.watchedMu.Lock()
	watched := append([]*consumer.Consumer(nil), l.m.watched...)
	l.m.watchedMu.Unlock()
	for _, c := range watched {
		collectStatus(ch, c.Status())
	}
}

func collectStatus(ch chan<- prometheus.Metric, st consumer.Status) {
	ready := 0.0
	if st.Ready {
		ready = 1
	}
	ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, ready, st.Group)
	for _, s := range st.Subscriptions {
		for _, p := range s.Partitions {
			part := strconv.Itoa(int(p.Partition))
			if p.Committed >= 0 {
				ch <- prometheus.MustNewConstMetric(committedDesc, prometheus.GaugeValue, float64(p.Committed), st.Group, s.Topic, part)
			}
			if p.HighWatermark >= 0 {
				ch <- prometheus.MustNewConstMetric(highWatermarkDesc, prometheus.GaugeValue, float64(p.HighWatermark), st.Group, s.Topic, part)
			}
			if p.Lag >= 0 {
				ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(p.Lag), st.Group, s.Topic, part)
			}
		}
	}
}

// WatchConsumer exports c's lag, committed offsets, high watermarks and
// readiness per assigned partition. Consumers must not share a group.
func (m *Metrics) WatchConsumer(c *consumer.Consumer) {
	m.watchedMu.Lock()
	defer m.watchedMu.Unlock()
	m.watched = append(m.watched, c)
}
