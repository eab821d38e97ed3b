package service

import (
	"fmt"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/idempotency"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The Idempotency-Key store's size, evictions and skipped records show in
// /metrics, and a record that does not decode is logged once at WARN.
func TestIdempotencyMetrics(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1))
	url, _, logs := startService(t, c, map[string]string{"HTTP_IDEMPOTENCY_MAX_KEYS": "2"})
	for i := range 3 {
		key := fmt.Sprint("k-", i)
		kafkatest.WaitFor(t, 30*time.Second, func() error { // 503 until the store is open
			if status, body := post(t, url, "/kafka/send", `{"topic":"orders","value":"v"}`, "Idempotency-Key", key); status != 200 {
				return fmt.Errorf("send %s: %d %s", key, status, body)
			}
			return nil
		})
	}
	forged := &kgo.Record{Topic: idempotency.Topic, Key: []byte("x"), Value: []byte(`{"claim":"abcdef","state":"claimed"}`)}
	if err := c.Client(t).ProduceSync(t.Context(), forged).FirstErr(); err != nil {
		t.Fatal(err)
	}
	kafkatest.WaitFor(t, 10*time.Second, func() error {
		mfs := scrape(t, url)
		got := map[string]float64{}
		for _, name := range []string{"kafkakit_idempotency_keys", "kafkakit_idempotency_evicted_total", "kafkakit_idempotency_records_skipped_total"} {
			got[name] = value(mfs, name, nil)
		}
		want := map[string]float64{"kafkakit_idempotency_keys": 2, "kafkakit_idempotency_evicted_total": 1, "kafkakit_idempotency_records_skipped_total": 1}
		for name, v := range want {
			if got[name] != v {
				return fmt.Errorf("%s = %v, want %v", name, got[name], v)
			}
		}
		if b := value(mfs, "kafkakit_idempotency_bytes", nil); b <= 0 {
			return fmt.Errorf("kafkakit_idempotency_bytes = %v, want more than 0", b)
		}
		return nil
	})
	if l := logs.find("idempotency: skipping a record that does not decode"); l == nil || l["level"] != "WARN" {
		t.Fatalf("no WARN line for the record that does not decode: %v", l)
	}
}
