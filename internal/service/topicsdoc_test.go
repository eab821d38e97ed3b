package service

import (
	"context"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kafkakit/kafkakit/dlq"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// parkOne writes a copy of letter, replayed dlq.DefaultMaxReplays times
// already, to the dead-letter topic dlqTopic and replays that topic, so
// that the replay parks the copy: the parked topic is made as a replay
// makes it.
func parkOne(t *testing.T, c *kafkatest.Cluster, letter *kgo.Record, dlqTopic string) {
	t.Helper()
	tired := &kgo.Record{Topic: dlqTopic, Partition: letter.Partition, Key: letter.Key, Value: letter.Value,
		Headers: append(slices.Clone(letter.Headers), kgo.RecordHeader{Key: dlq.HeaderReplayCount, Value: []byte(strconv.Itoa(dlq.DefaultMaxReplays))})}
	c.Produce(t, tired)
	sum, err := dlq.Replay(t.Context(), c.Config(), dlq.ReplayOptions{Topic: dlqTopic})
	if err != nil || sum.Parked != 1 {
		t.Fatalf("replay of %s: %+v, %v; want one letter parked", dlqTopic, sum, err)
	}
}

// docTopic is a row of docs/topics.md's table.
type docTopic struct{ kind, name, partitions, settings string }

// topicsTable reads docs/topics.md's table of the topics kafkakit writes.
func topicsTable(t *testing.T) []docTopic {
	t.Helper()
	doc, err := os.ReadFile("../../docs/topics.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows []docTopic
	for line := range strings.Lines(string(doc)) {
		cells := strings.Split(strings.TrimSpace(line), " | ")
		if len(cells) == 6 && cells[0] != "| topic" && !strings.HasPrefix(cells[0], "|---") {
			rows = append(rows, docTopic{strings.TrimPrefix(cells[0], "| "), cells[1], cells[2], cells[3]})
		}
	}
	if len(rows) == 0 {
		t.Fatal("docs/topics.md has no table of topics")
	}
	return rows
}

// checkTopicsDoc holds docs/topics.md's table against the topics serve
// and a replay made for the subscribed topic source, retrying through
// the topic of delay (ms) and dead-lettering with the default suffix:
// each row's name, read for them, is a topic the cluster has, with the
// partitions the row says and exactly the settings kafkakit set on it
// that the row lists (none for the brokers' defaults); and every other
// topic on the cluster is source or the broker's own, so that the table
// misses no topic kafkakit makes.
func checkTopicsDoc(t *testing.T, c *kafkatest.Cluster, source, delay string) {
	t.Helper()
	adm := kadm.NewClient(c.Client(t))
	topics, err := adm.ListTopics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	made := map[string]bool{source: true}
	for _, row := range topicsTable(t) {
		name := docTopicName(row.name, source, delay)
		made[name] = true
		detail, ok := topics[name]
		if !ok {
			t.Errorf("docs/topics.md's %s is named %s, which is %s here: the cluster has no such topic", row.kind, row.name, name)
			continue
		}
		if want := docPartitions(t, row, topics, source); len(detail.Partitions) != want {
			t.Errorf("docs/topics.md says the %s has %s partitions (%d here); %s has %d", row.kind, row.partitions, want, name, len(detail.Partitions))
		}
		want := docSettings(row.settings)
		if got := setConfigs(t.Context(), t, adm, name); !maps.Equal(got, want) {
			t.Errorf("docs/topics.md's %s has the settings %s: %v; %s has %v set", row.kind, row.settings, want, name, got)
		}
	}
	for _, name := range topics.Names() {
		if !made[name] && !strings.HasPrefix(name, "__") {
			t.Errorf("the cluster has %s, which no row of docs/topics.md names", name)
		}
	}
}

// docTopicName is a row's name pattern for source and delay:
// "`<topic>` + `KAFKA_DLQ_SUFFIX` (`orders.dlq`); ..." is source.dlq.
func docTopicName(cell, source, delay string) string {
	pattern, _, _ := strings.Cut(cell, " (")
	pattern, _, _ = strings.Cut(pattern, ",")
	pattern = strings.ReplaceAll(strings.ReplaceAll(pattern, "`", ""), " + ", "")
	return strings.NewReplacer("<dead-letter topic>", source+".dlq", "<topic>", source,
		"KAFKA_DLQ_SUFFIX", ".dlq", "<delay ms>", delay).Replace(pattern)
}

// docPartitions is the partition count a row says, for source.
func docPartitions(t *testing.T, row docTopic, topics kadm.TopicDetails, source string) int {
	t.Helper()
	if n, err := strconv.Atoi(row.partitions); err == nil {
		return n
	}
	switch {
	case strings.HasPrefix(row.partitions, "as many as `<topic>`"), strings.HasPrefix(row.partitions, "exactly as many as `<topic>`"):
		return len(topics[source].Partitions)
	case strings.HasPrefix(row.partitions, "as many as the dead-letter topic"):
		return len(topics[source+".dlq"].Partitions)
	}
	t.Errorf("docs/topics.md's %s has %q partitions, which this test cannot read: teach it", row.kind, row.partitions)
	return -1
}

// defaultValue reads "`retention.ms` = 2 × `HTTP_IDEMPOTENCY_TTL`
// (172800000 by default)".
var defaultValue = regexp.MustCompile("`([a-z.]+)` = [^(]*\\(([0-9]+) by default\\)")

// docSettings are the settings a row says kafkakit sets: its `k=v`
// values and the defaults of its computed ones; none for the brokers'
// defaults.
func docSettings(cell string) map[string]string {
	out := map[string]string{}
	if strings.HasPrefix(cell, "the brokers' defaults") {
		return out
	}
	for i, part := range strings.Split(cell, "`") {
		if k, v, ok := strings.Cut(part, "="); ok && i%2 == 1 {
			out[k] = v
		}
	}
	for _, m := range defaultValue.FindAllStringSubmatch(cell, -1) {
		out[m[1]] = m[2]
	}
	return out
}

// setConfigs are the settings set on topic itself (DYNAMIC_TOPIC_CONFIG),
// not inherited from the brokers.
func setConfigs(ctx context.Context, t *testing.T, adm *kadm.Client, topic string) map[string]string {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, cfg := range rc.Configs {
		if cfg.Source == kmsg.ConfigSourceDynamicTopicConfig {
			out[cfg.Key] = cfg.MaybeValue()
		}
	}
	return out
}
