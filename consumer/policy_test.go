package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestPolicyRetryTwiceThenDeadLetter: RetryInPlace(2) then a dead-letter
// topic of the policy's own: three calls, then the dead letter, and the
// partition moves on. The configuration's DLQ suffix plays no part.
func TestPolicyRetryTwiceThenDeadLetter(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("twice", 1))
	c.Produce(t, &kgo.Record{Topic: "twice", Key: []byte("k"), Value: []byte("bad")},
		&kgo.Record{Topic: "twice", Key: []byte("k"), Value: []byte("good")})
	var tries calls
	var seen log
	h := consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		tries.add(m.Value)
		if string(m.Value) == "bad" {
			return errors.New("transient")
		}
		seen.add(m)
		return nil
	})
	policy := consumer.Policy(consumer.RetryInPlace(2, time.Millisecond, 5*time.Millisecond), consumer.DeadLetterTo("twice-dead"))
	r := start(t, c.Config(), func(cs *consumer.Consumer) error {
		return cs.Subscribe("twice", true, h, consumer.Failures(policy))
	})
	dead := c.ReadAll(t, "twice-dead", 1, 30*time.Second)
	waitLen(t, &seen, 1)
	if n := len(tries.times("bad")); n != 3 {
		t.Errorf("handler called %d times for the failing message, want 3", n)
	}
	if got := string(headers(dead[0])["kafkakit-attempts"]); got != "3" {
		t.Errorf("dead letter says %q attempts, want 3", got)
	}
	if st := r.c.Status(); st.Subscriptions[0].DeadLetterTopic != "twice-dead" {
		t.Errorf("status dead-letter topic %q, want twice-dead", st.Subscriptions[0].DeadLetterTopic)
	}
}

// TestPolicySkipsPermanentWithoutDeadLetter: a policy of retries alone
// retries a transient failure until it succeeds, and skips a permanent
// one with an error log of its record, even though the configuration has
// a DLQ suffix.
func TestPolicySkipsPermanentWithoutDeadLetter(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("perm", 1))
	c.Produce(t, &kgo.Record{Topic: "perm", Value: []byte("broken")},
		&kgo.Record{Topic: "perm", Value: []byte("flaky")},
		&kgo.Record{Topic: "perm", Value: []byte("fine")})
	var tries calls
	var seen log
	h := consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		n := tries.add(m.Value)
		switch {
		case string(m.Value) == "broken":
			return consumer.Permanent(errors.New("unparseable"))
		case string(m.Value) == "flaky" && n <= 4: // past the policy's 2 retries
			return errors.New("transient")
		}
		seen.add(m)
		return nil
	})
	var logs logBuffer
	policy := consumer.Policy(consumer.RetryInPlace(2, time.Millisecond, 2*time.Millisecond))
	start(t, c.Config(), func(cs *consumer.Consumer) error {
		return cs.Subscribe("perm", true, h, consumer.Failures(policy))
	}, consumer.Logger(slog.New(slog.NewJSONHandler(&logs, nil))))
	waitLen(t, &seen, 2)
	got := seen.snapshot()
	if string(got[0].Value) != "flaky" || string(got[1].Value) != "fine" {
		t.Errorf("handled %q, %q; want flaky, fine", got[0].Value, got[1].Value)
	}
	if n := len(tries.times("broken")); n != 1 {
		t.Errorf("permanent failure called %d times, want 1", n)
	}
	if n := len(tries.times("flaky")); n != 5 {
		t.Errorf("transient failure called %d times, want 5", n)
	}
	if _, ok := logs.jsonLine("handler failed permanently and dead letters are off; skipping the message"); !ok {
		t.Error("no error log of the skipped record")
	}
	if _, ok := logs.jsonLine("handler failed past the last failure stage; retrying until it succeeds"); !ok {
		t.Error("no error log of retries past the policy")
	}
	if recs := readIfAny(t, c, "perm.dlq"); len(recs) != 0 {
		t.Errorf("%d dead letters, want none", len(recs))
	}
}

// readIfAny reads whatever topic holds, or nothing if it does not exist.
func readIfAny(t *testing.T, c *kafkatest.Cluster, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	topics, err := kadm.NewClient(c.Client(t)).ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if !topics.Has(topic) || topics[topic].Err != nil {
		return nil
	}
	return c.ReadToEnd(t, topic)
}

// TestPolicyRecovererAndSkip: a recoverer of the user's gets the record
// as consumed; one it declines goes on to SkipAndLog; both are committed
// and the partition moves on.
func TestPolicyRecovererAndSkip(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("rec", 1))
	for _, v := range []string{"keep", "drop", "ok"} {
		c.Produce(t, &kgo.Record{Topic: "rec", Value: []byte(v)})
	}
	var seen, recovered log
	h := consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		if string(m.Value) == "ok" {
			seen.add(m)
			return nil
		}
		m.Value = []byte("changed by the handler")
		return fmt.Errorf("cannot handle")
	})
	rec := func(_ context.Context, m *consumer.Message, err error) error {
		if !strings.Contains(err.Error(), "cannot handle") {
			t.Errorf("recoverer got error %v", err)
		}
		if string(m.Value) == "drop" {
			return errors.New("not mine")
		}
		recovered.add(m)
		return nil
	}
	var logs logBuffer
	policy := consumer.Policy(consumer.RetryInPlace(1, time.Millisecond, time.Millisecond), consumer.Recover(rec), consumer.SkipAndLog())
	r := start(t, c.Config(), func(cs *consumer.Consumer) error {
		return cs.Subscribe("rec", true, h, consumer.Failures(policy))
	}, consumer.Logger(slog.New(slog.NewJSONHandler(&logs, nil))))
	waitLen(t, &seen, 1)
	if got := recovered.snapshot(); len(got) != 1 || string(got[0].Value) != "keep" || got[0].Attempt != 2 {
		t.Fatalf("recovered %v, want keep at attempt 2", got)
	}
	line, ok := logs.jsonLine("handler failed and the failure policy skips the message")
	if !ok || line["value"] != "drop" {
		t.Errorf("skip log %v, want one with value drop", line)
	}
	waitCommitted(t, c, r.c.Group(), "rec", 0, 3)
}

// TestPolicyRejectedAtSubscribe: a policy that cannot work is an error of
// Subscribe, not of the first failure.
func TestPolicyRejectedAtSubscribe(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("bad", 1))
	cs, err := consumer.New(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	h := consumer.HandlerFunc(func(context.Context, *consumer.Message) error { return nil })
	for name, p := range map[string]consumer.FailurePolicy{
		"negative retries": consumer.Policy(consumer.RetryInPlace(-1, time.Millisecond, time.Second)),
		"dead letter self": consumer.Policy(consumer.DeadLetterTo("bad")),
		"empty suffix":     consumer.Policy(consumer.DeadLetterSuffix("")),
		"nil recoverer":    consumer.Policy(consumer.Recover(nil)),
	} {
		if err := cs.Subscribe("bad", true, h, consumer.Failures(p)); err == nil {
			t.Errorf("%s: Subscribe accepted the policy", name)
		}
	}
}

// TestShorthandsBesideFailuresRejected: Retries and DeadLetterTopic shape
// only the default policy; beside Failures they would be ignored, so
// Subscribe refuses them, naming them. Backoff, which also paces retried
// writes to Kafka, is accepted.
func TestShorthandsBesideFailuresRejected(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("short", 1))
	cs, err := consumer.New(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	h := consumer.HandlerFunc(func(context.Context, *consumer.Message) error { return nil })
	policy := consumer.Failures(consumer.Policy(consumer.RetryInPlace(1, time.Millisecond, time.Second)))
	for _, tc := range []struct {
		name string
		opt  consumer.SubscribeOption
		want string
	}{
		{"retries", consumer.Retries(5), "Retries shapes the default failure policy"},
		{"dead letter topic", consumer.DeadLetterTopic("short.dead"), "DeadLetterTopic shapes the default failure policy"},
	} {
		err := cs.Subscribe("short", true, h, tc.opt, policy)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
	if err := cs.Subscribe("short", true, h, consumer.Backoff(time.Millisecond, time.Second), policy); err != nil {
		t.Errorf("Backoff beside Failures: %v", err)
	}
}
