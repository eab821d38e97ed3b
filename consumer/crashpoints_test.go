package consumer_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// crashState writes into Kafka what a member that crashed in the retry
// path leaves behind: records in the subscribed topic, its retry topics
// and its dead-letter topic, and the group's commits. A new member then
// continues from there, as one does after a SIGKILL.
type crashState struct {
	t     *testing.T
	c     *kafkatest.Cluster
	group string
	cl    *kgo.Client
	now   time.Time
}

func newCrashState(t *testing.T, c *kafkatest.Cluster) *crashState {
	return &crashState{t: t, c: c, group: c.Config().GroupID, cl: c.Client(t), now: time.Now()}
}

// produce writes r and returns it as a consumer sees it.
func (s *crashState) produce(r *kgo.Record) *consumer.Message {
	s.t.Helper()
	if err := s.cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
		s.t.Fatal(err)
	}
	return &consumer.Message{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value,
		Headers: r.Headers, Timestamp: r.Timestamp}
}

// forward writes msg to topic as the consumer forwards a failed record: to
// a retry topic, as delivery number attempts, due at once, or, with
// attempts 0, to a dead-letter topic.
func (s *crashState) forward(msg *consumer.Message, topic string, attempts int) *consumer.Message {
	s.t.Helper()
	pm := consumer.DeadLetter(msg, errors.New("failing"), 1, s.group, topic, s.now)
	headers := slices.DeleteFunc(pm.Headers, func(h kgo.RecordHeader) bool { return strings.HasPrefix(h.Key, "retry_topic-") })
	if attempts > 0 {
		original := msg.Timestamp
		if v, ok := msg.Header(consumer.HeaderRetryOriginalTimestamp); ok {
			original = time.UnixMilli(int64(binary.BigEndian.Uint64(v)))
		}
		headers = append(headers,
			kgo.RecordHeader{Key: consumer.HeaderRetryOriginalTimestamp, Value: binary.BigEndian.AppendUint64(nil, uint64(original.UnixMilli()))},
			kgo.RecordHeader{Key: consumer.HeaderRetryAttempts, Value: binary.BigEndian.AppendUint32(nil, uint32(attempts))},
			kgo.RecordHeader{Key: consumer.HeaderRetryBackoffTimestamp, Value: binary.BigEndian.AppendUint64(nil, uint64(s.now.UnixMilli()))})
	}
	return s.produce(&kgo.Record{Topic: topic, Partition: msg.Partition, Key: pm.Key, Value: pm.Value, Headers: headers})
}

// commit commits the group at offset of partition 0 of topic.
func (s *crashState) commit(topic string, offset int64) {
	s.t.Helper()
	offs := kadm.Offsets{}
	offs.AddOffset(topic, 0, offset, -1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(s.cl).CommitOffsets(ctx, s.group, offs)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		s.t.Fatal(err)
	}
}

// poisonLog is a handler that fails every call for values starting with
// "poison" and records the others' calls in order.
type poisonLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *poisonLog) handler() consumer.Handler {
	return consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		l.mu.Lock()
		l.calls = append(l.calls, string(m.Value))
		l.mu.Unlock()
		if strings.HasPrefix(string(m.Value), "poison") {
			return errors.New("poison")
		}
		return nil
	})
}

func (l *poisonLog) seen() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

// TestRetryCrashPoints: a member crashed at each point between writing a
// record of key K to the next retry topic, or to the dead-letter topic,
// and committing where it came from; the next member continues from what
// Kafka holds. Poison record #1 of K fails every call; #2 succeeds. No
// record is written again behind its key's later records, #2 reaches the
// handler once, after #1's calls, no key stays parked, and #1 is in the
// dead-letter topic.
//
// The first case is the stuck-key sequence: #1 was dead-lettered from the
// last retry topic, #2 forwarded there behind it, and the first retry
// topic, still holding both, was not committed. Written again from there,
// #1 would land behind #2, which would wait for it for good.
func TestRetryCrashPoints(t *testing.T) {
	kafkatest.Parallel(t)
	for _, tc := range crashPoints {
		t.Run(tc.name, func(t *testing.T) { testRetryCrashPoint(t, tc) })
	}
}

// The topics of TestRetryCrashPoints: its subscribed topic is sk.
const skRetry100, skRetry500, skDLQ = "sk-retry-100", "sk-retry-500", "sk.dlq"

// crashPoint is a point at which a member crashed in the retry path.
type crashPoint struct {
	name string
	// crash writes the state the crash left; source is the records of
	// the subscribed topic, #1 and #2.
	crash func(s *crashState, source []*consumer.Message)
	// calls the handler gets, and records each topic holds at the end.
	calls              []string
	retry100, retry500 int
}

// crashPoints are the cases of TestRetryCrashPoints.
var crashPoints = []crashPoint{{
	name: "dead-lettered from the last retry topic, the next record forwarded, first retry topic not committed",
	crash: func(s *crashState, src []*consumer.Message) {
		s.commit("sk", 2)
		r1, r2 := s.forward(src[0], skRetry100, 2), s.forward(src[1], skRetry100, 2)
		s.forward(s.forward(r1, skRetry500, 3), skDLQ, 0)
		s.forward(r2, skRetry500, 3)
		s.commit(skRetry500, 1)
	},
	calls: []string{"ok-2"}, retry100: 2, retry500: 2,
}, {
	name: "as above, the dead-lettering not committed either",
	crash: func(s *crashState, src []*consumer.Message) {
		s.commit("sk", 2)
		r1, r2 := s.forward(src[0], skRetry100, 2), s.forward(src[1], skRetry100, 2)
		s.forward(s.forward(r1, skRetry500, 3), skDLQ, 0)
		s.forward(r2, skRetry500, 3)
	},
	calls: []string{"ok-2"}, retry100: 2, retry500: 2,
}, {
	name: "forwarded to the last retry topic, first retry topic not committed",
	crash: func(s *crashState, src []*consumer.Message) {
		s.commit("sk", 2)
		r1 := s.forward(src[0], skRetry100, 2)
		s.forward(src[1], skRetry100, 2)
		s.forward(r1, skRetry500, 3)
	},
	calls: []string{"poison-1", "ok-2"}, retry100: 2, retry500: 1,
}, {
	name: "dead-lettered from the last retry topic, nothing committed there",
	crash: func(s *crashState, src []*consumer.Message) {
		s.commit("sk", 2)
		r1 := s.forward(src[0], skRetry100, 2)
		s.forward(src[1], skRetry100, 2)
		s.forward(s.forward(r1, skRetry500, 3), skDLQ, 0)
		s.commit(skRetry100, 1)
	},
	calls: []string{"poison-1", "ok-2"}, retry100: 2, retry500: 1,
}, {
	name: "both written to the first retry topic, subscribed topic not committed",
	crash: func(s *crashState, src []*consumer.Message) {
		s.forward(src[0], skRetry100, 2)
		s.forward(src[1], skRetry100, 2)
	},
	calls: []string{"poison-1", "poison-1", "ok-2"}, retry100: 2, retry500: 1,
}, {
	name: "first written to the first retry topic, subscribed topic not committed",
	crash: func(s *crashState, src []*consumer.Message) {
		s.forward(src[0], skRetry100, 2)
	},
	calls: []string{"poison-1", "poison-1", "ok-2"}, retry100: 2, retry500: 1,
}}

// testRetryCrashPoint writes what a crash at tc left behind and runs a new
// member from there.
func testRetryCrashPoint(t *testing.T, tc crashPoint) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("sk", 1), kafkatest.Topic(skRetry100, 1),
		kafkatest.Topic(skRetry500, 1), kafkatest.Topic(skDLQ, 1))
	s := newCrashState(t, c)
	src := []*consumer.Message{s.produce(keyed("sk", "K", "poison-1")), s.produce(keyed("sk", "K", "ok-2"))}
	tc.crash(s, src)

	var l poisonLog
	policy := consumer.Policy(consumer.RetryTopics(100*time.Millisecond, 500*time.Millisecond), consumer.DeadLetterSuffix(".dlq"))
	m := start(t, rangeConfig(c), func(cs *consumer.Consumer) error {
		return cs.Subscribe("sk", true, l.handler(), consumer.Failures(policy))
	})
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if !slices.Contains(l.seen(), "ok-2") {
			return fmt.Errorf("ok-2 not handled; calls %v, parked keys %d", l.seen(), parkedKeys(m))
		}
		if n := parkedKeys(m); n != 0 {
			return fmt.Errorf("%d keys parked", n)
		}
		return nil
	})
	if got := l.seen(); !slices.Equal(got, tc.calls) {
		t.Errorf("handler calls %v, want %v", got, tc.calls)
	}
	for topic, want := range map[string]int{skRetry100: tc.retry100, skRetry500: tc.retry500} {
		if n := len(c.ReadToEnd(t, topic)); n != want {
			t.Errorf("%s holds %d records, want %d", topic, n, want)
		}
	}
	if n := len(c.ReadToEnd(t, skDLQ)); n < 1 {
		t.Errorf("%d dead letters, want poison-1's", n)
	}
}

// TestStuckRetryRecordIsLoud: a retry record that waits for an older
// record of its key longer than ten times the longest delay is logged at
// warn level, naming its topic, partition, key and offset, and shown in
// Status until the wait ends. Here the older record's handler call hangs
// in the last retry topic while the next record of its key waits in the
// first.
func TestStuckRetryRecordIsLoud(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("st", 1))
	c.Produce(t, keyed("st", "K", "a"), keyed("st", "K", "b"))
	release := make(chan struct{})
	var calls sync.Map
	var handled atomic.Int32
	h := consumer.HandlerFunc(func(ctx context.Context, m *consumer.Message) error {
		if string(m.Value) == "a" {
			n, _ := calls.LoadOrStore("a", new(atomic.Int32))
			switch n.(*atomic.Int32).Add(1) {
			case 1, 2:
				return errors.New("failing twice")
			default: // from the last retry topic: hangs until released
				select {
				case <-release:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		handled.Add(1)
		return nil
	})
	var logs logBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	policy := consumer.Policy(consumer.RetryTopics(50*time.Millisecond, 100*time.Millisecond), consumer.DeadLetterSuffix(".dlq"))
	m := start(t, rangeConfig(c), func(cs *consumer.Consumer) error {
		return cs.Subscribe("st", true, h, consumer.Failures(policy))
	}, consumer.Logger(logger))

	var stuck consumer.StuckRecord
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		recs := m.c.Status().Subscriptions[0].StuckRecords
		if len(recs) != 1 {
			return fmt.Errorf("stuck records %+v, want b's", recs)
		}
		stuck = recs[0]
		return nil
	})
	if stuck.Topic != "st-retry-50" || stuck.Key != "K" || stuck.OriginalOffset != 1 || stuck.WaitsFor != 0 || stuck.AgeSeconds < 1 {
		t.Errorf("stuck record %+v: want b (offset 1 of st) in st-retry-50, waiting for offset 0, at least 1s old", stuck)
	}
	line := ""
	for _, l := range logs.lines() {
		if strings.Contains(l, "level=WARN") && strings.Contains(l, "stuck bound") {
			line = l
		}
	}
	for _, want := range []string{"topic=st-retry-50", "partition=0", "key=K", fmt.Sprintf("offset=%d", stuck.Offset)} {
		if !strings.Contains(line, want) {
			t.Errorf("stuck warning %q does not say %s", line, want)
		}
	}

	close(release)
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if n := handled.Load(); n != 2 {
			return fmt.Errorf("%d of 2 handled", n)
		}
		if recs := m.c.Status().Subscriptions[0].StuckRecords; len(recs) != 0 {
			return fmt.Errorf("stuck records %+v after the wait ended, want none", recs)
		}
		return nil
	})
}
