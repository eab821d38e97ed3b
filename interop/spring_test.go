//go:build spring

// The tests of this file run Spring for Apache Kafka 4.1 (the Maven module
// in ./spring, plain Spring, no Boot) beside kafkakit on a real Apache
// Kafka cluster: Spring reads kafkakit's dead letters, kafkakit replays
// Spring's, and each finishes a record the other put in a retry topic. It
// is Spring's own code that writes and reads the headers, never ours.
//
//	go run ./internal/realkafka/cmd run -env-file /tmp/kafka.env &
//	set -a; . /tmp/kafka.env; set +a
//	go test -tags spring -count=1 -v ./interop/
//
// Without KAFKAKIT_TEST_BROKERS, Java or Maven, they skip and say why.
package interop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// refusal is the error the kafkakit handlers of these tests fail with; its
// Go type is what the dead letters name as the exception's cause.
type refusal struct{ key string }

func (r *refusal) Error() string { return "order " + r.key + " refused" }

// runKafkakitConsumer runs a kafkakit consumer of topic in group, every
// call of whose handler fails, until the test ends.
func runKafkakitConsumer(t *testing.T, c *kafkatest.Cluster, topic, group string, opts ...consumer.SubscribeOption) {
	t.Helper()
	cfg := c.Config()
	cfg.GroupID = group
	cfg.Assigners = []string{"range"}
	cs, err := consumer.New(cfg, consumer.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	fail := consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		return fmt.Errorf("handle %s: %w", m.Key, &refusal{key: string(m.Key)})
	})
	if err := cs.Subscribe(topic, true, fail, opts...); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cs.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("consumer: %v", err)
		}
		cs.Close()
	})
}

// produceOrders writes one record with key k<i> to each of partitions
// partitions of topic, each with a header, and returns them with their
// offsets and timestamps as the broker assigned them.
func produceOrders(t *testing.T, c *kafkatest.Cluster, topic string, partitions int) []*kgo.Record {
	t.Helper()
	var recs []*kgo.Record
	for i := range partitions {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i), Key: fmt.Appendf(nil, "k%d", i),
			Value: fmt.Appendf(nil, `{"order":%d}`, i), Headers: []kgo.RecordHeader{{Key: "trace", Value: fmt.Appendf(nil, "t-%d", i)}}})
	}
	c.Produce(t, recs...)
	return recs
}

// TestSpringReadsKafkakitDeadLetters: records that kafkakit dead-lettered,
// after blocking retries and after retry topics, are read by a Spring
// @KafkaListener whose KafkaHeaders.DLT_* parameters Spring's header
// mapping and conversion fill: the original topic, partition, offset,
// timestamp and its type, the consumer group, and the exception's class,
// cause class and message, as kafkakit saw them.
func TestSpringReadsKafkakitDeadLetters(t *testing.T) {
	java := requireSpring(t)
	for _, tt := range []struct {
		name, topic string
		opts        []consumer.SubscribeOption
		extra       []string // the retry topics
	}{
		{name: "blocking retries", topic: "orders", opts: []consumer.SubscribeOption{consumer.Retries(2), consumer.Backoff(10*time.Millisecond, 50*time.Millisecond)}},
		{name: "retry topics", topic: "rt-orders", extra: []string{"rt-orders-retry-200", "rt-orders-retry-400"},
			opts: []consumer.SubscribeOption{consumer.Failures(consumer.Policy(consumer.RetryTopics(200*time.Millisecond, 400*time.Millisecond), consumer.DeadLetterSuffix(".dlq")))}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := []kafkatest.Option{kafkatest.Topic(tt.topic, 3), kafkatest.Topic(tt.topic+".dlq", 3)}
			for _, x := range tt.extra {
				opts = append(opts, kafkatest.Topic(x, 3))
			}
			c := kafkatest.NewCluster(t, opts...)
			sent := produceOrders(t, c, tt.topic, 3)
			group := "kafkakit-" + tt.topic
			runKafkakitConsumer(t, c, tt.topic, group, tt.opts...)
			c.ReadAll(t, tt.topic+".dlq", len(sent), 60*time.Second)

			spring := startProc(t, "spring read-dlt", nil, append(java, "read-dlt", "--brokers", strings.Join(c.Addrs(), ","),
				"--topic", tt.topic+".dlq", "--group", "spring-dlt-reader")...)
			got := decodeEvents(t, spring.waitN(t, len(sent), 90*time.Second, event("dead-letter", "")))
			for _, e := range got {
				checkDeadLetter(t, e, sent, tt.topic, group)
			}
		})
	}
}

// checkDeadLetter compares what Spring read from a dead letter with the
// record that was sent.
func checkDeadLetter(t *testing.T, e springEvent, sent []*kgo.Record, topic, group string) {
	t.Helper()
	var r *kgo.Record
	for _, s := range sent {
		if string(s.Key) == string(e.Key) {
			r = s
		}
	}
	if r == nil {
		t.Fatalf("Spring read a dead letter with key %q, which was not sent", e.Key)
	}
	if string(e.Value) != string(r.Value) || e.Partition != r.Partition {
		t.Errorf("key %s: value %q in partition %d, want %q in %d", r.Key, e.Value, e.Partition, r.Value, r.Partition)
	}
	want := fmt.Sprintf("handle %s: order %s refused", r.Key, r.Key)
	cause := "*interop.refusal"
	for _, d := range []struct{ what, got, want string }{
		{"DLT_ORIGINAL_TOPIC", e.OriginalTopic, topic},
		{"DLT_ORIGINAL_PARTITION", fmt.Sprint(e.OriginalPartition), fmt.Sprint(r.Partition)},
		{"DLT_ORIGINAL_OFFSET", fmt.Sprint(e.OriginalOffset), fmt.Sprint(r.Offset)},
		{"DLT_ORIGINAL_TIMESTAMP", fmt.Sprint(deref(e.OriginalTimestamp)), fmt.Sprint(r.Timestamp.UnixMilli())},
		{"DLT_ORIGINAL_TIMESTAMP_TYPE", e.OriginalTimestampType, "CreateTime"},
		{"DLT_ORIGINAL_CONSUMER_GROUP", e.OriginalGroup, group},
		{"DLT_EXCEPTION_FQCN", e.ExceptionFQCN, "*fmt.wrapError"},
		{"DLT_EXCEPTION_CAUSE_FQCN", deref(e.ExceptionCauseFQCN), cause},
		{"DLT_EXCEPTION_MESSAGE", e.ExceptionMessage, want},
	} {
		if d.got != d.want {
			t.Errorf("key %s: Spring's %s is %q, want %q", r.Key, d.what, d.got, d.want)
		}
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// kafkakitBinary builds cmd/kafkakit into the test's directory.
func kafkakitBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kafkakit")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/kafkakit/kafkakit/cmd/kafkakit").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// committed waits until group has committed at least offset on partition
// of topic.
func committed(t *testing.T, c *kafkatest.Cluster, group, topic string, partition int32, offset int64) {
	t.Helper()
	adm := kadm.NewClient(c.Client(t))
	kafkatest.WaitFor(t, 60*time.Second, func() error {
		offs, err := adm.FetchOffsets(context.Background(), group)
		if err != nil {
			return err
		}
		o, ok := offs.Lookup(topic, partition)
		if !ok || o.At < offset {
			return fmt.Errorf("group %s has committed %v on %s/%d, want %d", group, o.At, topic, partition, offset)
		}
		return nil
	})
}
