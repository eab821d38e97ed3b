package main

import (
	"strings"
	"testing"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestDLQReplayMessages: a dry run says "would", never "replayed", even in
// its log; a null key prints as null; a failing replay prints its error
// first and no empty "()"; a missing topic is reported and not created.
func TestDLQReplayMessages(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("pay.dlq", 1), kafkatest.Topic("pay", 2), kafkatest.Topic("odd.dlq", 1))
	c.Produce(t, &kgo.Record{Topic: "pay.dlq", Key: nil, Value: []byte("v"), Headers: []kgo.RecordHeader{
		{Key: "kafka_dlt-original-topic", Value: []byte("pay")},
		{Key: "kafka_dlt-original-partition", Value: []byte{0, 0, 0, 1}},
		{Key: "kafka_dlt-exception-message", Value: []byte("boom")},
	}}, &kgo.Record{Topic: "odd.dlq", Value: []byte("no headers")})
	env := map[string]string{"KAFKA_BROKERS": strings.Join(c.Addrs(), ","), "LOG_LEVEL": "info"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	var out, errOut strings.Builder
	if err := run(t.Context(), []string{"dlq", "replay", "--topic", "pay.dlq", "--dry-run"}, lookup, &out, &errOut); err != nil {
		t.Fatalf("dry run: %v\n%s", err, errOut.String())
	}
	if got := out.String(); !strings.Contains(got, `would replay partition=0 offset=0 key=null to=pay partition=1 error="boom"`) {
		t.Errorf("dry run printed %q", got)
	}
	if strings.Contains(out.String()+errOut.String(), "replayed") {
		t.Errorf("dry run says replayed:\n%s\n%s", out.String(), errOut.String())
	}

	out.Reset()
	errOut.Reset()
	err := run(t.Context(), []string{"dlq", "replay", "--topic", "odd.dlq"}, lookup, &out, &errOut)
	if exitCode(err) != 1 {
		t.Fatalf("replay without an original topic: %v", err)
	}
	if !strings.Contains(errOut.String(), "kafkakit dlq replay: dlq: dead letter has no") {
		t.Errorf("stderr %q: want the error first", errOut.String())
	}
	if strings.Contains(out.String(), "()") || out.Len() != 0 {
		t.Errorf("stdout %q after a failure that replayed nothing", out.String())
	}

	out.Reset()
	errOut.Reset()
	err = run(t.Context(), []string{"dlq", "replay", "--topic", "nosuch.dlq"}, lookup, &out, &errOut)
	if exitCode(err) != 1 || !strings.Contains(errOut.String(), "topic does not exist: nosuch.dlq") {
		t.Errorf("missing topic: %v, stderr %q", err, errOut.String())
	}
	topics, lerr := kadm.NewClient(c.Client(t)).ListTopics(t.Context())
	if lerr != nil {
		t.Fatal(lerr)
	}
	if topics.Has("nosuch.dlq") {
		t.Error("replay created the missing topic")
	}
}
