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
	kafkatest.Parallel(t)
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

	// A letter without an original topic is listed with why, left, and
	// the run fails; a dry run lists it and succeeds.
	for _, dry := range []bool{true, false} {
		out.Reset()
		errOut.Reset()
		args := []string{"dlq", "replay", "--topic", "odd.dlq"}
		verb, code := "not replayed", 1
		if dry {
			args, verb, code = append(args, "--dry-run"), "would not replay", 0
		}
		err := run(t.Context(), args, lookup, &out, &errOut)
		status := 0
		if err != nil {
			status = exitCode(err)
		}
		if status != code {
			t.Fatalf("dry run %v: replay without an original topic: %v, want exit status %d", dry, err, code)
		}
		if want := verb + " partition=0 offset=0 key=null reason=no_original_topic: the dead letter has no kafka_dlt-original-topic"; !strings.Contains(out.String(), want) {
			t.Errorf("dry run %v: stdout %q, want %q", dry, out.String(), want)
		}
		if strings.Contains(out.String(), "()") || !strings.Contains(out.String(), "0 dead letters from odd.dlq, 1 not; 1 left") {
			t.Errorf("dry run %v: stdout %q, want a summary of 1 not replayed", dry, out.String())
		}
		if !dry && !strings.Contains(errOut.String(), "kafkakit dlq replay: 1 dead letters were not replayed") {
			t.Errorf("stderr %q", errOut.String())
		}
	}
	for _, to := range []string{"bad topic", "..", "a/b", strings.Repeat("t", 300), "__kafkakit_idempotency", "__consumer_offsets"} {
		out.Reset()
		errOut.Reset()
		err := run(t.Context(), []string{"dlq", "replay", "--topic", "pay.dlq", "--to", to}, lookup, &out, &errOut)
		if exitCode(err) != 2 || !strings.Contains(errOut.String(), "kafkakit dlq replay: --to: topic ") {
			t.Errorf("--to %.20q: %v, stderr %q; want a usage error naming --to", to, err, errOut.String())
		}
	}
	if got := c.ReadToEnd(t, "pay"); len(got) != 0 {
		t.Errorf("%d letters were sent to pay", len(got))
	}

	out.Reset()
	errOut.Reset()
	err := run(t.Context(), []string{"dlq", "replay", "--topic", "nosuch.dlq"}, lookup, &out, &errOut)
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
