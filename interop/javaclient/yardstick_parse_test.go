package javaclient

import (
	"strings"
	"testing"
	"time"
)

// The yardstick's settings: each bad value is refused with its variable
// named, all at once.
func TestYardstickFromEnv(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  map[string]string
		want yardstick
		errs []string
	}{
		{name: "defaults", want: yardstick{records: 200_000, size: 256, rounds: 3, acks: "all", compression: "none"}},
		{name: "set", env: map[string]string{"KAFKAKIT_YARDSTICK_RECORDS": "1000", "KAFKAKIT_YARDSTICK_SIZE": "100",
			"KAFKAKIT_YARDSTICK_ROUNDS": "1", "KAFKAKIT_YARDSTICK_ACKS": "leader", "KAFKAKIT_YARDSTICK_COMPRESSION": "lz4"},
			want: yardstick{records: 1000, size: 100, rounds: 1, acks: "leader", compression: "lz4"}},
		{name: "not a number", env: map[string]string{"KAFKAKIT_YARDSTICK_RECORDS": "many"},
			errs: []string{`KAFKAKIT_YARDSTICK_RECORDS: "many" is not a whole number from 1 to 5000000`}},
		{name: "zero", env: map[string]string{"KAFKAKIT_YARDSTICK_SIZE": "0"},
			errs: []string{`KAFKAKIT_YARDSTICK_SIZE: "0" is not a whole number from 1 to 1048576`}},
		{name: "too many", env: map[string]string{"KAFKAKIT_YARDSTICK_RECORDS": "5000001", "KAFKAKIT_YARDSTICK_ROUNDS": "11"},
			errs: []string{"KAFKAKIT_YARDSTICK_RECORDS", "KAFKAKIT_YARDSTICK_ROUNDS: \"11\" is not a whole number from 1 to 10"}},
		{name: "unknown words", env: map[string]string{"KAFKAKIT_YARDSTICK_ACKS": "1", "KAFKAKIT_YARDSTICK_COMPRESSION": "brotli"},
			errs: []string{`KAFKAKIT_YARDSTICK_ACKS: "1" is not one of all, leader, none`,
				`KAFKAKIT_YARDSTICK_COMPRESSION: "brotli" is not one of none, gzip, snappy, lz4, zstd`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := yardstickFromEnv(func(k string) string { return tt.env[k] })
			if len(tt.errs) == 0 {
				if err != nil || got != tt.want {
					t.Errorf("got %+v, %v, want %+v", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %+v, want an error", got)
			}
			for _, want := range tt.errs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

// What Kafka's tools print is read with care: a run that did not finish
// or a line of another shape is an error that shows the output.
func TestParseKafkaToolOutput(t *testing.T) {
	const produced = "1000 records sent, 500.5 records/sec (0.12 MB/sec), 2.1 ms avg latency, 30.00 ms max latency, 2 ms 50th, 10 ms 95th, 25 ms 99th, 30 ms 99.9th.\n"
	r, err := parseProducerPerformance("50 records sent, 10.0 records/sec (0.00 MB/sec), 1.0 ms avg latency, 2.0 ms max latency.\n"+produced, "java", 1000, 256)
	if err != nil || r.msgsPerSec != 500.5 || r.p50 != 2*time.Millisecond || r.p99 != 25*time.Millisecond || r.p999 != 30*time.Millisecond || !r.produce {
		t.Errorf("got %+v, %v", r, err)
	}
	for _, bad := range []string{"", "1000 records sent", strings.Replace(produced, "1000 records", "999 records", 1),
		strings.Replace(produced, "500.5", "0.0", 1)} {
		if r, err := parseProducerPerformance(bad, "java", 1000, 256); err == nil {
			t.Errorf("ProducerPerformance output %q: got %+v, want an error", bad, r)
		}
	}

	const header = "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n"
	r, err = parseConsumerPerformance("SLF4J: a warning\n"+header+"2026-12-07 02:53:48:726, 2026-12-07 02:53:57:583, 0.2441, 0.1, 1000, 112.9, 6268, 2000, 0.12, 500.0\n", 1000, 256)
	if err != nil || r.msgsPerSec != 500 || r.produce {
		t.Errorf("got %+v, %v", r, err)
	}
	for _, bad := range []string{"", header, header + "a, b, c\n",
		header + "s, e, 0.2, 0.1, 999, 112.9, 6268, 2000, 0.12, 500.0\n",
		header + "s, e, 0.2, 0.1, 1000, 112.9, 6268, 0, 0.12, 500.0\n",
		header + "s, e, 0.2, 0.1, x, 112.9, 6268, y, 0.12, 500.0\n"} {
		if r, err := parseConsumerPerformance(bad, 1000, 256); err == nil {
			t.Errorf("ConsumerPerformance output %q: got %+v, want an error", bad, r)
		}
	}
}
