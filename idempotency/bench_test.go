package idempotency_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/idempotency"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkIdempotencyReplay opens a store on a topic holding the answers
// of idemReplayKeys single sends, as a restarted instance does, and
// reports the heap it frees on Close per key (heap-B/key: the keys, plus
// its client's share) beside its own estimate (counted-B/key).
func BenchmarkIdempotencyReplay(b *testing.B) {
	const idemReplayKeys = 20_000
	c := kafkatest.NewCluster(b)
	openStore(b, c, time.Hour).Close() // creates the topic
	body := []byte(`{"topic":"orders","partition":3,"offset":1234567,"timestamp":"2026-12-06T23:24:16.360Z"}` + "\n")
	fp := strings.Repeat("f", 64)
	var recs []*kgo.Record
	for i := range idemReplayKeys {
		claim := fmt.Sprintf("%032x", i)
		recs = append(recs, storeRecord(fmt.Sprintf("order-%012d", i), claim,
			map[string]any{"claim": claim, "fp": fp, "state": "done", "status": 200, "body": body}, time.Now()))
		if len(recs) == 1000 {
			c.Produce(b, recs...)
			recs = recs[:0]
		}
	}
	var heap, counted float64
	for b.Loop() {
		s, err := idempotency.Open(b.Context(), c.Config(), time.Hour, 20*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		st := s.Stats()
		if st.Keys != idemReplayKeys {
			b.Fatalf("%d keys, want %d", st.Keys, idemReplayKeys)
		}
		// The heap the store frees on Close is what it held.
		var open, closed runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&open)
		s.Close()
		runtime.GC()
		runtime.ReadMemStats(&closed)
		heap += float64(open.HeapAlloc) - float64(closed.HeapAlloc)
		counted += float64(st.Bytes)
	}
	b.ReportMetric(heap/float64(b.N)/idemReplayKeys, "heap-B/key")
	b.ReportMetric(counted/float64(b.N)/idemReplayKeys, "counted-B/key")
}
