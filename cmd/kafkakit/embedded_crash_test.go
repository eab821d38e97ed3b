package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestEmbeddedDataDirSurvivesSIGKILL sends messages through /kafka/send to
// a topic the embedded broker creates on first use, kills the process with
// SIGKILL, restarts it on the same data directory and reads the topic:
// every acknowledged message is there.
func TestEmbeddedDataDirSurvivesSIGKILL(t *testing.T) {
	kafkatest.Parallel(t)
	sigkillTest(t)
	const n = 50
	dir := t.TempDir()
	env := []string{"HTTP_ADDR=127.0.0.1:0", "KAFKA_EMBEDDED_ADDR=127.0.0.1:0", "KAFKA_EMBEDDED_DATA_DIR=" + dir, "LOG_LEVEL=info"}

	first := startProcess(t, env, "serve", "--embedded")
	url := first.waitLine(t, "http server listening")["url"].(string)
	for i := range n {
		body := fmt.Sprintf(`{"topic":"created-on-send","key":"k%d","value":"v%d"}`, i, i)
		resp, err := http.Post(url+"/kafka/send", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var out struct{ Offset int64 }
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != 200 || out.Offset != int64(i) {
			t.Fatalf("send %d: status %d offset %d", i, resp.StatusCode, out.Offset)
		}
	}
	first.kill(t)

	second := startProcess(t, env, "serve", "--embedded")
	broker := second.waitLine(t, "embedded Kafka broker started: for development only, not for production")["addr"].(string)
	second.waitLine(t, "http server listening")
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics("created-on-send"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, "created-on-send")
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("after SIGKILL and restart the topic is gone: %v", err)
	}
	var got []*kgo.Record
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		got = append(got, pollOnce(ctx, cl)...)
		if len(got) < n {
			return fmt.Errorf("read %d of %d acknowledged messages", len(got), n)
		}
		return nil
	})
	for i, r := range got[:n] {
		if string(r.Key) != fmt.Sprintf("k%d", i) || r.Offset != int64(i) {
			t.Fatalf("record %d: key %q offset %d", i, r.Key, r.Offset)
		}
	}
	if code := second.stop(t); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// pollOnce returns what one short poll brings.
func pollOnce(ctx context.Context, cl *kgo.Client) []*kgo.Record {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return cl.PollFetches(ctx).Records()
}
