package dlq

import (
	"bytes"
	"testing"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fuzzKeys are the header names replay reads; a one-byte key in the
// fuzzer's input stands for one of them, so that it finds them quickly.
var fuzzKeys = []string{
	consumer.HeaderOriginalTopic, consumer.HeaderOriginalPartition, consumer.HeaderOriginalOffset,
	consumer.HeaderExceptionFQCN, consumer.HeaderExceptionMessage, consumer.HeaderFailedAt, consumer.HeaderAttempts,
	connectTopic, connectPartition, connectOffset, connectPrefix + "exception.message", connectPrefix + "exception.class.name",
	HeaderReplayCount, "trace",
}

// fuzzHeaders reads headers from data: key and value alternate, separated
// by 0xff; a value of the single byte 0xfe is a null value.
func fuzzHeaders(data []byte) []kgo.RecordHeader {
	parts := bytes.Split(data, []byte{0xff})
	var hs []kgo.RecordHeader
	for i := 0; i+1 < len(parts); i += 2 {
		key := string(parts[i])
		if len(parts[i]) == 1 {
			key = fuzzKeys[int(parts[i][0])%len(fuzzKeys)]
		}
		v := parts[i+1]
		if bytes.Equal(v, []byte{0xfe}) {
			v = nil
		}
		hs = append(hs, kgo.RecordHeader{Key: key, Value: v})
	}
	return hs
}

// FuzzDeadLetterHeaders: whatever headers a dead letter carries (wrong
// lengths, garbage in either dialect, huge or null values), decoding it
// never panics, and what replay would send is well formed or refused.
func FuzzDeadLetterHeaders(f *testing.F) {
	f.Add([]byte("\x00\xffpayments\xff\x01\xff\x00\x00\x00\x02\xff\x04\xffboom"))
	f.Add([]byte("\x07\xffsink-in\xff\x08\xff2\xff\x0a\xffnot json"))
	f.Add([]byte("\x00\xff__kafkakit_idempotency\xff\x01\xff\x00\x00"))
	f.Add([]byte("\x00\xffbad topic\xff\x01\xff\xff\xff\xff\xff\xff"))
	f.Add([]byte("\x07\xffa/b\xff\x08\xff-7\xff\x0c\xff99999999999999999999"))
	f.Add([]byte("\x05\xffyesterday\xff\x0c\xff-1\xff\x00\xff\xfe"))
	f.Add([]byte("\x0c\xff3\xff\x00\xff..\xff\x01\xff\x80\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec := &kgo.Record{Topic: "fuzz.dlq", Key: data, Value: data, Headers: fuzzHeaders(data)}
		_ = LetterOf(rec)
		topic, partition := origin(rec)
		if partition < -1 {
			t.Fatalf("origin partition %d", partition)
		}
		_ = CheckDestination(topic)
		restored := restoreHeaders(rec.Headers)
		if !subsequence(restored, rec.Headers) {
			t.Fatalf("restoreHeaders made up headers: %q from %q", restored, rec.Headers)
		}
		if n := replayCount(rec.Headers); n < 0 {
			t.Fatalf("replay count %d", n)
		}
		for _, to := range []string{"", "elsewhere"} {
			msg, refused := undead(rec, to, "fuzz.dlq.parked", DefaultMaxReplays)
			switch {
			case refused != nil:
				if to != "" || refused.Reason != ReasonNoOriginalTopic || refused.Error() == "" {
					t.Fatalf("to %q: refused %v", to, refused)
				}
			case msg.Topic == "":
				t.Fatalf("to %q: a message without a topic", to)
			case msg.Partition != nil && *msg.Partition < 0:
				t.Fatalf("to %q: partition %d", to, *msg.Partition)
			}
		}
	})
}

// subsequence reports whether every header of sub is in all, in order.
func subsequence(sub, all []kgo.RecordHeader) bool {
	i := 0
	for _, h := range all {
		if i < len(sub) && sub[i].Key == h.Key && bytes.Equal(sub[i].Value, h.Value) {
			i++
		}
	}
	return i == len(sub)
}
