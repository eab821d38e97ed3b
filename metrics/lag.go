package metrics

import (
	"strconv"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	lagDesc = prometheus.NewDesc(NameConsumerLag,
		"Messages not yet handled and committed: high watermark minus committed offset, per assigned partition.",
		[]string{"group", "topic", "partition"}, nil)
	committedDesc = prometheus.NewDesc(Namespace+"_consumer_committed_offset",
		"The group's committed offset, per assigned partition.", []string{"group", "topic", "partition"}, nil)
	highWatermarkDesc = prometheus.NewDesc(Namespace+"_consumer_high_watermark",
		"The partition's high watermark as last seen, per assigned partition.", []string{"group", "topic", "partition"}, nil)
	readyDesc = prometheus.NewDesc(Namespace+"_consumer_ready",
		"1 when the consumer has joined its group.", []string{"group"}, nil)
	parkedKeysDesc = prometheus.NewDesc(Namespace+"_parked_keys",
		"Keys with records in the retry topics, whose later records wait for them, per subscribed topic with retry topics.",
		[]string{"group", "topic"}, nil)
	oldestRetryDesc = prometheus.NewDesc(Namespace+"_oldest_retry_age_seconds",
		"How long the oldest record fetched from the retry topics and not yet finished has been there (0 when none), per subscribed topic with retry topics.",
		[]string{"group", "topic"}, nil)
)

// lagCollector reads the watched consumers' status at scrape time, so lag
// costs nothing between scrapes and asks nothing of the brokers.
type lagCollector struct{ m *Metrics }

func (l lagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- lagDesc
	ch <- committedDesc
	ch <- highWatermarkDesc
	ch <- readyDesc
	ch <- parkedKeysDesc
	ch <- oldestRetryDesc
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
		collectPartitions(ch, st.Group, s.Topic, s.Partitions)
		for _, rt := range s.RetryTopics {
			collectPartitions(ch, st.Group, rt.Topic, rt.Partitions)
		}
		if len(s.RetryTopics) > 0 {
			ch <- prometheus.MustNewConstMetric(parkedKeysDesc, prometheus.GaugeValue, float64(s.ParkedKeys), st.Group, s.Topic)
			ch <- prometheus.MustNewConstMetric(oldestRetryDesc, prometheus.GaugeValue, s.OldestRetryAgeSeconds, st.Group, s.Topic)
		}
	}
}

func collectPartitions(ch chan<- prometheus.Metric, group, topic string, parts []consumer.PartitionStatus) {
	for _, p := range parts {
		part := strconv.Itoa(int(p.Partition))
		if p.Committed >= 0 {
			ch <- prometheus.MustNewConstMetric(committedDesc, prometheus.GaugeValue, float64(p.Committed), group, topic, part)
		}
		if p.HighWatermark >= 0 {
			ch <- prometheus.MustNewConstMetric(highWatermarkDesc, prometheus.GaugeValue, float64(p.HighWatermark), group, topic, part)
		}
		if p.Lag >= 0 {
			ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(p.Lag), group, topic, part)
		}
	}
}

// WatchConsumer exports c's lag, committed offsets, high watermarks and
// readiness per assigned partition, retry topics' included, and per
// subscription with retry topics its parked keys and oldest retry's age. Consumers must not share a group.
func (m *Metrics) WatchConsumer(c *consumer.Consumer) {
	m.watchedMu.Lock()
	defer m.watchedMu.Unlock()
	m.watched = append(m.watched, c)
}
