package idempotency_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/idempotency"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func openStore(t testing.TB, c *kafkatest.Cluster, ttl time.Duration, opts ...idempotency.Option) *idempotency.Store {
	t.Helper()
	s, err := idempotency.Open(t.Context(), c.Config(), ttl, 20*time.Second, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// storeRecord is a record of the store's topic as any client could write
// it, for key (scope "-") and claim.
func storeRecord(key, claim string, value map[string]any, ts time.Time) *kgo.Record {
	v, _ := json.Marshal(value)
	return &kgo.Record{Topic: idempotency.Topic, Key: []byte("-\x00" + key + "\x00" + claim), Value: v, Timestamp: ts}
}
