package consumer_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// logBuffer collects log output written from many goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// jsonLine returns the first JSON log line whose msg is msg.
func (b *logBuffer) jsonLine(msg string) (map[string]any, bool) {
	for _, l := range b.lines() {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
			return m, true
		}
	}
	return nil, false
}

// TestPermanentWithoutDeadLettersIsLoggedAndSkipped: with KAFKA_DLQ_SUFFIX
// empty, a permanent failure is not retried forever: it is logged at error
// level with its whole record, committed, and the next record is handled.
func TestPermanentWithoutDeadLettersIsLoggedAndSkipped(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("nodlq", 1))
	cfg := c.Config()
	cfg.DLQSuffix = ""
	binary := []byte{0xff, 0x00, 'a'}
	c.Produce(t,
		&kgo.Record{Topic: "nodlq", Key: []byte("k\n1"), Value: binary,
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}, {Key: "h", Value: []byte{0xfe}}}},
		&kgo.Record{Topic: "nodlq", Key: []byte("k2"), Value: []byte("fine")},
	)
	var seen log
	h := consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		seen.add(m)
		if string(m.Value) != "fine" {
			m.Value = []byte("changed by the handler") // the log must show the record, not this
			return consumer.Permanent(errors.New("unparseable"))
		}
		return nil
	})
	var logs logBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	r := start(t, cfg, func(cs *consumer.Consumer) error { return cs.Subscribe("nodlq", true, h) }, consumer.Logger(logger))
	waitLen(t, &seen, 2)
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if got := committed(t, c, "kafkatest-group", "nodlq", 0); got != 2 {
			return fmt.Errorf("committed %d, want 2: the skipped record and the next", got)
		}
		return nil
	})
	r.stop(t)
	if got := seen.snapshot(); len(got) != 2 || got[0].Offset != 0 || got[1].Offset != 1 {
		t.Fatalf("handled %d messages, want offset 0 once then 1", len(got))
	}

	line, ok := logs.jsonLine("handler failed permanently and dead letters are off; skipping the message")
	if !ok {
		t.Fatalf("no skip line in the log:\n%s", logs.lines())
	}
	for k, want := range map[string]any{
		"level": "ERROR", "topic": "nodlq", "partition": 0.0, "offset": 0.0, "key": "k\n1",
		"value": base64.StdEncoding.EncodeToString(binary), "value_encoding": "base64",
		"error": "permanent: unparseable", "group": "kafkatest-group", "attempt": 1.0,
	} {
		if got := line[k]; got != want {
			t.Errorf("log %s = %#v, want %#v", k, got, want)
		}
	}
	wantHeaders := `[{"key":"h","value":"v"},{"key":"h","value":"/g==","value_encoding":"base64"}]`
	if got, _ := json.Marshal(line["headers"]); string(got) != wantHeaders {
		t.Errorf("log headers = %s, want %s", got, wantHeaders)
	}
}

// TestPermanentWithoutDeadLettersBoundsTheLoggedValue: a large value is
// cut in the log line, which says how large it was.
func TestPermanentWithoutDeadLettersBoundsTheLoggedValue(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("bigskip", 1))
	big := bytes.Repeat([]byte("é"), 100_000) // 200,000 bytes of UTF-8
	c.Produce(t, &kgo.Record{Topic: "bigskip", Value: big})
	var logs logBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	var seen log
	h := consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		seen.add(m)
		return consumer.Permanent(errors.New("too big"))
	})
	start(t, c.Config(), func(cs *consumer.Consumer) error {
		return cs.Subscribe("bigskip", true, h, consumer.DeadLetterTopic(""))
	}, consumer.Logger(logger))
	var line map[string]any
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		var ok bool
		if line, ok = logs.jsonLine("handler failed permanently and dead letters are off; skipping the message"); !ok {
			return errors.New("no skip line yet")
		}
		return nil
	})
	v, _ := line["value"].(string)
	if len(v) == 0 || len(v) > 4096 || line["value_size"] != float64(len(big)) || line["value_encoding"] != nil {
		t.Errorf("logged a value of %d bytes, size %v, encoding %v; want text of at most 4096 bytes and size %d",
			len(v), line["value_size"], line["value_encoding"], len(big))
	}
}
