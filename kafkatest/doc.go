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
//
// # A real cluster
//
// When KAFKAKIT_TEST_BROKERS names the PLAINTEXT listeners of a Kafka
// cluster, such as the one `go run ./internal/realkafka/cmd run` starts,
// NewCluster and Start use that cluster instead of starting kfake, so the
// same tests run against Apache Kafka. Each test gets the cluster to
// itself: a file lock in the temporary directory lets one test binary on
// the machine use it at a time (tests of one binary that run in parallel
// share it), and every topic, group and ACL is deleted before and after,
// so a test finds it as empty as a new kfake. Options map onto the
// cluster's listeners: TLSCerts onto its TLS listener (NewCerts then
// returns the cluster's certificates, KAFKAKIT_TEST_CERTS_DIR), mutual
// TLS onto the one that requires client certificates, SASL onto its SASL
// listener, where a SCRAM user is created with the test's name and
// password and a PLAIN user is replaced by the cluster's super user
// (KAFKAKIT_TEST_SASL_USER), PLAIN users being fixed in the broker's
// configuration. What only kfake can do skips the test with the reason:
// [Cluster.Fake], KfakeOpts, Brokers beyond the cluster's, and
// [RequireFake]. Whether the cluster creates topics on first use is read
// from its brokers' auto.create.topics.enable: [NoAutoCreate] runs on one
// that does not, [AutoCreate] on one that does, and each skips on the
// other, saying so. A test that sends to or reads a topic should create
// it ([Topic], [Cluster.CreateTopic]), so that it runs on both.
package kafkatest
