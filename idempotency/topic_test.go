package idempotency_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/idempotency"
	"github.com/kafkakit/kafkakit/internal/owntopics"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
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

// idemConfigs returns the Idempotency-Key topic's configs.
func idemConfigs(t *testing.T, c *kafkatest.Cluster) map[string]string {
	t.Helper()
	rcs, err := kadm.NewClient(c.Client(t)).DescribeTopicConfigs(t.Context(), idempotency.Topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(idempotency.Topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, cfg := range rc.Configs {
		out[cfg.Key] = cfg.MaybeValue()
	}
	return out
}

// createIdemTopic creates the Idempotency-Key topic with configs, as an
// operator or an older instance may have.
func createIdemTopic(t *testing.T, c *kafkatest.Cluster, configs map[string]string) {
	t.Helper()
	cfgs := map[string]*string{}
	for k, v := range configs {
		cfgs[k] = &v
	}
	adm := kadm.NewClient(c.Client(t))
	if _, err := adm.CreateTopic(t.Context(), 2, 1, cfgs, idempotency.Topic); err != nil {
		t.Fatal(err)
	}
	// Apache Kafka's controller answers before its broker knows the
	// topic: wait until the broker answers for it, as kafkatest does for
	// the topics it creates.
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		ends, err := adm.ListEndOffsets(t.Context(), idempotency.Topic)
		if err == nil {
			err = ends.Error()
		}
		return err
	})
}

// TestIdempotencyTopicCreated: on a cluster that creates no topic on first
// use, the store creates its topic compacted, with 8 partitions and a
// retention of twice the TTL, and opens on it.
func TestIdempotencyTopicCreated(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.NoAutoCreate())
	var logs jsonLog
	store, err := idempotency.Open(t.Context(), c.Config(), 3*time.Second, time.Minute, idempotency.Logger(slog.New(slog.NewJSONHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	store.Close()
	got := idemConfigs(t, c)
	if got["cleanup.policy"] != "compact,delete" || got["retention.ms"] != "6000" {
		t.Errorf("cleanup.policy=%s retention.ms=%s, want compact,delete and 6000", got["cleanup.policy"], got["retention.ms"])
	}
	if l := logs.lines("INFO", "created the Idempotency-Key topic with 8 partitions"); len(l) != 1 {
		t.Errorf("want one INFO line saying the topic was created, got %v", l)
	}
}

// TestIdempotencyTopicRetention: an existing retention too short for the
// TTL is raised, and said so at INFO; instances with different TTLs, in
// either order, end with the longer one's retention; a shorter TTL never
// lowers it. With creation off it is not raised but reported, and under
// strict it stops the store from opening.
func TestIdempotencyTopicRetention(t *testing.T) {
	for _, order := range [][]time.Duration{{2 * time.Second, 3 * time.Second}, {3 * time.Second, 2 * time.Second}} {
		t.Run(fmt.Sprint(order), func(t *testing.T) {
			c := kafkatest.NewCluster(t)
			createIdemTopic(t, c, map[string]string{"cleanup.policy": "compact,delete", "retention.ms": "1000"})
			var logs jsonLog
			logger := slog.New(slog.NewJSONHandler(&logs, nil))
			for _, ttl := range order {
				if err := idempotency.EnsureTopic(t.Context(), c.Config(), ttl, idempotency.Logger(logger)); err != nil {
					t.Fatal(err)
				}
			}
			if got := idemConfigs(t, c)["retention.ms"]; got != "6000" {
				t.Errorf("retention.ms = %s, want 6000, twice the longer TTL", got)
			}
			// Apache Kafka may describe the old value for a moment after an
			// alter, and the same raise is then made, and said, again: count
			// each raise once.
			var raised []map[string]any
			said := map[string]bool{}
			for _, l := range logs.lines("INFO", "raised the retention of the Idempotency-Key topic") {
				if m := fmt.Sprint(l["msg"]); !said[m] {
					said[m] = true
					raised = append(raised, l)
				}
			}
			want := 1 // from 1000 to the longer's at once
			if order[0] < order[1] {
				want = 2 // then again for the longer
			}
			if len(raised) != want {
				t.Fatalf("%d INFO lines say the retention was raised, want %d: %v", len(raised), want, raised)
			}
			last := raised[len(raised)-1]
			if last["retention_ms"] != 6000.0 || !strings.Contains(fmt.Sprint(last["msg"]), "to 6000 ms: twice the Idempotency-Key TTL (HTTP_IDEMPOTENCY_TTL=3000)") {
				t.Errorf("last INFO line %v", last)
			}
		})
	}
	t.Run("creation off", func(t *testing.T) {
		c := kafkatest.NewCluster(t)
		createIdemTopic(t, c, map[string]string{"cleanup.policy": "delete", "retention.ms": "1000"})
		var logs jsonLog
		cfg := c.Config()
		cfg.CreateTopics = false
		err := idempotency.EnsureTopic(t.Context(), cfg, 2*time.Second, idempotency.Logger(slog.New(slog.NewJSONHandler(&logs, nil))))
		if err != nil {
			t.Fatal(err)
		}
		if got := idemConfigs(t, c)["retention.ms"]; got != "1000" {
			t.Errorf("retention.ms = %s, want 1000 left alone", got)
		}
		for _, msg := range []string{
			"the Idempotency-Key topic's retention.ms is 1000, should be at least 4000 (twice the Idempotency-Key TTL (HTTP_IDEMPOTENCY_TTL=2000))",
			"the Idempotency-Key topic's cleanup.policy is delete, should be compact,delete",
		} {
			if l := logs.lines("WARN", msg); len(l) != 1 || l[0]["topic"] != idempotency.Topic {
				t.Errorf("want one WARN line %q naming the topic, got %v", msg, l)
			}
		}
		cfg.StrictTopics = true
		_, err = idempotency.Open(t.Context(), cfg, 2*time.Second, time.Minute, idempotency.Logger(slog.New(slog.DiscardHandler)))
		if !owntopics.IsTopicError(err) || !strings.Contains(err.Error(), "retention.ms is 1000, should be at least 4000") ||
			!strings.Contains(err.Error(), "cleanup.policy is delete") {
			t.Errorf("strict: %v; want both problems as the error", err)
		}
	})
	t.Run("missing, creation off", func(t *testing.T) {
		c := kafkatest.NewCluster(t, kafkatest.NoAutoCreate())
		cfg := c.Config()
		cfg.CreateTopics = false
		_, err := idempotency.Open(t.Context(), cfg, 2*time.Second, time.Minute, idempotency.Logger(slog.New(slog.DiscardHandler)))
		want := "topic __kafkakit_idempotency: the Idempotency-Key topic does not exist and KAFKA_TOPICS_CREATE is false: create it with 8 partitions, cleanup.policy=compact,delete, retention.ms=4000"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	})
}
