package consumer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/internal/owntopics"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// jsonLog keeps a logger's JSON lines, safe for concurrent use.
type jsonLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *jsonLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

func (l *jsonLog) logger() *slog.Logger { return slog.New(slog.NewJSONHandler(l, nil)) }

// lines returns the lines at level whose message contains msg.
func (l *jsonLog) lines(level, msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(l.buf.String()) {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["level"] == level && strings.Contains(fmt.Sprint(m["msg"]), msg) {
			out = append(out, m)
		}
	}
	return out
}

// partitionsOf returns topic's partition count, 0 when it does not exist.
func partitionsOf(t *testing.T, c *kafkatest.Cluster, topic string) int {
	t.Helper()
	details, err := kadm.NewClient(c.Client(t)).ListTopics(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := details[topic]
	if !ok || d.Err != nil {
		return 0
	}
	return len(d.Partitions)
}

// alwaysFails is a handler that fails every message.
var alwaysFails = consumer.HandlerFunc(func(context.Context, *consumer.Message) error { return errors.New("refused") })

// TestTopicsWithoutAutoCreation: on a cluster that creates no topic on
// first use, a consumer that retries through topics and dead-letters
// works from its first failure: it created its retry and dead-letter
// topics at start, with the subscribed topic's partitions, and each dead
// letter is in its record's partition.
func TestTopicsWithoutAutoCreation(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.NoAutoCreate(), kafkatest.Topic("na", 3))
	var logs jsonLog
	policy := consumer.Policy(consumer.RetryTopics(50*time.Millisecond), consumer.DeadLetterSuffix(".dlq"))
	start(t, rangeConfig(c), func(cs *consumer.Consumer) error {
		return cs.Subscribe("na", true, alwaysFails, consumer.Failures(policy))
	}, consumer.Logger(logs.logger()))
	for p := range int32(3) {
		c.Produce(t, &kgo.Record{Topic: "na", Partition: p, Key: fmt.Appendf(nil, "k%d", p), Value: []byte("v")})
	}
	dead := c.ReadAll(t, "na.dlq", 3, 30*time.Second)
	for _, r := range dead {
		if want := fmt.Sprintf("k%d", r.Partition); string(r.Key) != want {
			t.Errorf("dead letter of key %s in partition %d, want its record's partition", r.Key, r.Partition)
		}
	}
	for _, topic := range []string{"na.dlq", "na-retry-50"} {
		if n := partitionsOf(t, c, topic); n != 3 {
			t.Errorf("%s has %d partitions, want 3", topic, n)
		}
	}
	if got := logs.lines("INFO", "created the dead-letter topic of na"); len(got) != 1 {
		t.Errorf("%d INFO lines say the dead-letter topic was created, want 1", len(got))
	}
	if got := logs.lines("WARN", "is not created"); len(got) != 0 {
		t.Errorf("WARN lines: %v", got)
	}
}

// TestDeadLetterTopicWithFewerPartitions: an existing dead-letter topic
// with fewer partitions than its topic is left as it is and reported in
// one WARN line; with StrictTopics, Run refuses to start, saying what it
// should be.
func TestDeadLetterTopicWithFewerPartitions(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("few", 3), kafkatest.Topic("few.dlq", 1))
	for _, strict := range []bool{false, true} {
		t.Run(fmt.Sprint("strict=", strict), func(t *testing.T) {
			var logs jsonLog
			cfg := c.Config()
			cfg.StrictTopics = strict
			cs, err := consumer.New(cfg, consumer.Logger(logs.logger()), consumer.Group(fmt.Sprint("few-", strict)))
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			if err := cs.Subscribe("few", true, alwaysFails); err != nil {
				t.Fatal(err)
			}
			err = cs.EnsureTopics(t.Context())
			warns := logs.lines("WARN", "dead-letter topic of few's partitions is 1, should be at least 3, as few has")
			if !strict {
				if err != nil {
					t.Fatalf("EnsureTopics: %v", err)
				}
				if len(warns) != 1 || warns[0]["topic"] != "few.dlq" {
					t.Fatalf("want one WARN line naming few.dlq, got %v", warns)
				}
			} else {
				if !owntopics.IsTopicError(err) || !strings.Contains(err.Error(), "topic few.dlq: the dead-letter topic of few's partitions is 1, should be at least 3") ||
					!strings.Contains(err.Error(), "KAFKA_TOPICS_STRICT") {
					t.Fatalf("EnsureTopics: %v; want an error naming few.dlq, its partitions and KAFKA_TOPICS_STRICT", err)
				}
				if len(warns) != 0 {
					t.Errorf("strict: the problem is the error, not also a WARN line: %v", warns)
				}
				if err := cs.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "few.dlq") {
					t.Errorf("Run: %v; want the error", err)
				}
			}
			if n := partitionsOf(t, c, "few.dlq"); n != 1 {
				t.Errorf("few.dlq has %d partitions, want its own 1 left alone", n)
			}
		})
	}
}

// TestTopicsCreationOff: with CreateTopics off, a missing dead-letter
// topic stops Run, the error naming it, the setting and what to create;
// nothing is created.
func TestTopicsCreationOff(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.NoAutoCreate(), kafkatest.Topic("off", 2))
	cfg := c.Config()
	cfg.CreateTopics = false
	cs, err := consumer.New(cfg, consumer.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if err := cs.Subscribe("off", true, alwaysFails); err != nil {
		t.Fatal(err)
	}
	err = cs.Run(t.Context())
	want := "topic off.dlq: the dead-letter topic of off does not exist and KAFKA_TOPICS_CREATE is false: create it with 2 partitions, as off has"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Run: %v; want %q", err, want)
	}
	if n := partitionsOf(t, c, "off.dlq"); n != 0 {
		t.Errorf("off.dlq was created with %d partitions", n)
	}
}

// TestTopicsRefusedByACL: a SASL user who may read and write but not
// create topics gets Run's error at start, naming the dead-letter topic
// and the broker's reason, rather than a failure at the first dead
// letter.
func TestTopicsRefusedByACL(t *testing.T) {
	kafkatest.Parallel(t)
	allow := func(op kmsg.ACLOperation, res kmsg.ACLResourceType, name string) kfake.ACL {
		return kfake.ACL{Resource: res, Name: name, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
	}
	c := kafkatest.NewCluster(t, kafkatest.NoAutoCreate(), kafkatest.Topic("acl", 1),
		kafkatest.SASL(config.SASLScramSHA256, "admin", "admin-pw"),
		kafkatest.KfakeOpts(kfake.EnableACLs(), kfake.User("SCRAM-SHA-256", "carol", "carol-pw",
			allow(kmsg.ACLOperationRead, kmsg.ACLResourceTypeTopic, "*"),
			allow(kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTopic, "*"),
			allow(kmsg.ACLOperationRead, kmsg.ACLResourceTypeGroup, "*"),
			allow(kmsg.ACLOperationIdempotentWrite, kmsg.ACLResourceTypeCluster, "kafka-cluster"),
		)))
	cfg := c.Config()
	cfg.SASL.Username, cfg.SASL.Password = "carol", "carol-pw"
	cs, err := consumer.New(cfg, consumer.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if err := cs.Subscribe("acl", true, alwaysFails); err != nil {
		t.Fatal(err)
	}
	err = cs.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "topic acl.dlq: the cluster refused to create the dead-letter topic of acl: TOPIC_AUTHORIZATION_FAILED") {
		t.Fatalf("Run: %v; want the refusal naming acl.dlq and the broker's reason", err)
	}
}

// TestTopicsCheckedBeforeJoining: on a cluster that creates topics on
// first use, a consumer whose topic check gets no answer asks again, and
// joins its group only once the check has created the dead-letter topic
// with its topic's partitions: no client of the consumer has the brokers
// make it first with their default of one, and each dead letter stays in
// its record's partition.
func TestTopicsCheckedBeforeJoining(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("late", 3))
	var blocked atomic.Bool
	blocked.Store(true)
	c.Fake().ControlKey(int16(kmsg.Metadata), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.Fake().KeepControl()
		for _, rt := range req.(*kmsg.MetadataRequest).Topics {
			if blocked.Load() && rt.Topic != nil && *rt.Topic == "late.dlq" {
				return nil, errors.New("no answer yet"), true // the connection is closed
			}
		}
		return nil, nil, false
	})
	var logs jsonLog
	cfg := c.Config()
	cfg.RequestTimeout = time.Second
	r := start(t, cfg, func(cs *consumer.Consumer) error {
		return cs.Subscribe("late", true, alwaysFails, consumer.Failures(consumer.Policy(consumer.DeadLetterSuffix(".dlq"))))
	}, consumer.Logger(logs.logger()))
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if len(logs.lines("WARN", "cannot check the dead-letter and retry topics")) == 0 {
			return errors.New("no WARN line yet saying the check got no answer")
		}
		return nil
	})
	for p := range int32(3) {
		c.Produce(t, &kgo.Record{Topic: "late", Partition: p, Key: fmt.Appendf(nil, "k%d", p), Value: []byte("v")})
	}
	if r.c.Ready() {
		t.Errorf("the consumer joined its group before its topics were checked")
	}
	blocked.Store(false)
	for _, d := range c.ReadAll(t, "late.dlq", 3, 30*time.Second) {
		if want := fmt.Sprintf("k%d", d.Partition); string(d.Key) != want {
			t.Errorf("dead letter of key %s in partition %d, want its record's partition", d.Key, d.Partition)
		}
	}
	if n := partitionsOf(t, c, "late.dlq"); n != 3 {
		t.Errorf("late.dlq has %d partitions, want 3", n)
	}
}

// TestTopicsCheckedWithConnectionOpts: the clients the consumer opens,
// the topic check, the group's and the retry path's reader, get the SASL
// credentials a program gives in ConnectionOpts rather than in the
// configuration: on a cluster that requires them, Run creates the
// dead-letter and retry topics with the topic's partitions, and a
// message that fails once is handled again from its retry topic.
func TestTopicsCheckedWithConnectionOpts(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.NoAutoCreate(), kafkatest.Topic("sec", 2),
		kafkatest.SASL(config.SASLScramSHA256, "sec-user", "sec-password"))
	cfg := rangeConfig(c)
	auth := scram.Auth{User: cfg.SASL.Username, Pass: string(cfg.SASL.Password)}
	cfg.SASL = config.SASL{}
	var calls atomic.Int32
	h := consumer.HandlerFunc(func(context.Context, *consumer.Message) error {
		if calls.Add(1) == 1 {
			return errors.New("once")
		}
		return nil
	})
	policy := consumer.Policy(consumer.RetryTopics(50*time.Millisecond), consumer.DeadLetterSuffix(".dlq"))
	start(t, cfg, func(cs *consumer.Consumer) error {
		return cs.Subscribe("sec", true, h, consumer.Failures(policy))
	}, consumer.Group("sec"), consumer.ConnectionOpts(kgo.SASL(auth.AsSha256Mechanism())))
	c.Produce(t, &kgo.Record{Topic: "sec", Partition: 1, Key: []byte("k"), Value: []byte("v")})
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if n := calls.Load(); n != 2 {
			return fmt.Errorf("%d handler calls, want the first and the retry's", n)
		}
		return nil
	})
	for _, topic := range []string{"sec.dlq", "sec-retry-50"} {
		if n := partitionsOf(t, c, topic); n != 2 {
			t.Errorf("%s has %d partitions, want 2", topic, n)
		}
	}
}
