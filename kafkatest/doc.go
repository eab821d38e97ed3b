// Package kafkatest runs an in-process Kafka cluster (franz-go's kfake) for
// tests, kafkakit's own and its users'. No Kafka, Docker or network beyond
// 127.0.0.1 is needed:
//
//	func TestOrders(t *testing.T) {
//		c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 3))
//		p, err := producer.New(c.Config())
//		...
//	}
//
// The cluster shuts down when the test ends. Faults are injected through
// [Cluster.Fake], the underlying *kfake.Cluster (Fault, ControlKey).
// [Cluster.Config] keeps fault tests fast: its clients retry after 50ms and
// refresh metadata as often as every 10ms, so one injected
// NOT_LEADER_FOR_PARTITION costs milliseconds, not franz-go's 5s minimum
// between metadata refreshes. A client built by hand should add
// kgo.MetadataMinAge(10*time.Millisecond) for the same.
package kafkatest
