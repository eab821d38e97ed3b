//go:build spring

package interop

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/dlq"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkakitReplaysSpringDeadLetters: a Spring listener that throws,
// with DefaultErrorHandler and DeadLetterPublishingRecoverer at their
// defaults, dead-letters records to <topic>-dlt; `kafkakit dlq replay` (a
// subprocess) replays one topic's and the admin API of `kafkakit serve`
// (over HTTP) the other's: each record is back on the partition the
// listener got it from, with the key, value and headers (repeated names,
// a null value, binary bytes) it had, in order, plus
// kafkakit-replay-count.
func TestKafkakitReplaysSpringDeadLetters(t *testing.T) {
	java := requireSpring(t)
	const parts = 3
	topics := []string{"cli-payments", "api-payments"}
	var opts []kafkatest.Option
	for _, topic := range topics {
		opts = append(opts, kafkatest.Topic(topic, parts), kafkatest.Topic(topic+"-dlt", parts))
	}
	c := kafkatest.NewCluster(t, opts...)
	for _, topic := range topics {
		var recs []*kgo.Record
		for i := range parts {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i), Key: fmt.Appendf(nil, "p%d", i),
				Value: []byte{byte(i), 0x00, 0xff}, Headers: []kgo.RecordHeader{
					{Key: "trace", Value: fmt.Appendf(nil, "t-%d", i)}, {Key: "dup", Value: []byte("1")},
					{Key: "dup", Value: []byte("2")}, {Key: "null"}, {Key: "bin", Value: []byte{0, 0xfe, 0x80}}}})
		}
		c.Produce(t, recs...)
	}
	spring := startProc(t, "spring dead-letter", nil, append(java, "dead-letter", "--brokers", strings.Join(c.Addrs(), ","),
		"--topic", strings.Join(topics, ","), "--group", "spring-payments")...)
	isDLT := func(m map[string]any) bool {
		topic, _ := m["topic"].(string)
		return m["event"] == "published" && strings.HasSuffix(topic, "-dlt")
	}
	spring.waitN(t, parts*len(topics), 120*time.Second, isDLT)
	seen := firstDeliveries(decodeEvents(t, spring.all(event("seen", ""))))
	spring.stop(t)

	bin := kafkakitBinary(t)
	env := []string{"KAFKA_BROKERS=" + strings.Join(c.Addrs(), ","), "KAFKA_CLIENT_ID=spring-replay", "LOG_LEVEL=warn"}
	cmd := exec.Command(bin, "dlq", "replay", "--topic", "cli-payments-dlt")
	cmd.Env = append(cmd.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kafkakit dlq replay: %v\n%s", err, out)
	}
	checkReplayed(t, c, "cli-payments", seen)

	serve := startProc(t, "kafkakit serve", append(env, "HTTP_ADDR=127.0.0.1:0", "LOG_LEVEL=info"), bin, "serve")
	url := serve.waitN(t, 1, 60*time.Second, func(m map[string]any) bool { return m["msg"] == "http server listening" })[0]["url"].(string)
	resp, err := http.Post(url+"/kafka/dlq/api-payments-dlt/replay", "application/json", strings.NewReader(`{"dry_run":false}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var ans struct{ Total int }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &ans) != nil || ans.Total != parts {
		t.Fatalf("POST /kafka/dlq/api-payments-dlt/replay: %d %s, want 200 and %d replayed", resp.StatusCode, body, parts)
	}
	checkReplayed(t, c, "api-payments", seen)
}

// firstDeliveries keeps the first delivery of each record the listener
// printed, by topic, partition and offset.
func firstDeliveries(events []springEvent) map[string]springEvent {
	first := map[string]springEvent{}
	for _, e := range events {
		id := fmt.Sprintf("%s/%d@%d", e.Topic, e.Partition, e.Offset)
		if _, ok := first[id]; !ok {
			first[id] = e
		}
	}
	return first
}

// checkReplayed checks that every record of topic the Spring listener got
// is in topic again, after the original, in the same partition, with the
// same key, value and headers plus kafkakit-replay-count 1.
func checkReplayed(t *testing.T, c *kafkatest.Cluster, topic string, seen map[string]springEvent) {
	t.Helper()
	recs := c.ReadToEnd(t, topic)
	n := 0
	for _, e := range seen {
		if e.Topic != topic {
			continue
		}
		n++
		want := make([]kgo.RecordHeader, 0, len(e.Headers)+1)
		for _, h := range e.Headers {
			want = append(want, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		want = append(want, kgo.RecordHeader{Key: dlq.HeaderReplayCount, Value: []byte("1")})
		found := false
		for _, r := range recs {
			if r.Partition == e.Partition && r.Offset > e.Offset && bytes.Equal(r.Key, e.Key) {
				found = true
				if !bytes.Equal(r.Value, e.Value) || !sameHeaderList(r.Headers, want) {
					t.Errorf("%s/%d: replayed value %x headers %q,\nwant %x %q", topic, r.Partition, r.Value, r.Headers, e.Value, want)
				}
			}
		}
		if !found {
			t.Errorf("%s: the record with key %s was not replayed to partition %d", topic, e.Key, e.Partition)
		}
	}
	if n == 0 || len(recs) != 2*n {
		t.Errorf("%s holds %d records; the listener got %d, so want each once more", topic, len(recs), n)
	}
}

// sameHeaderList compares headers in order, a null value differing from
// an empty one.
func sameHeaderList(a, b []kgo.RecordHeader) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !bytes.Equal(a[i].Value, b[i].Value) || (a[i].Value == nil) != (b[i].Value == nil) {
			return false
		}
	}
	return true
}
