package service

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/kafkatest"
)

// TestRetryTopicsModeKeepsKeyOrder: with KAFKA_HANDLER_RETRY_MODE=topics a
// record the webhook fails three times goes through the three retry topics
// and succeeds from the last; its key's later records follow it, the other
// keys are delivered meanwhile, and every key's records arrive in order.
func TestRetryTopicsModeKeepsKeyOrder(t *testing.T) {
	kafkatest.Parallel(t)
	const keys, total, failing = 10, 50, 3
	c := kafkatest.NewCluster(t, kafkatest.Topic("work", 1))
	var mu sync.Mutex
	calls := 0
	rc, hook := newKeyedReceiver(t, func(_ string, seq int, _ *http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		if seq == failing {
			if calls++; calls <= 3 {
				return http.StatusServiceUnavailable
			}
		}
		return http.StatusOK
	})
	produceKeyed(t, c, "work", keys, total)
	env := concurrentWebhookEnv(hook)
	env["KAFKA_HANDLER_RETRY_MODE"] = "topics"
	env["KAFKA_HANDLER_RETRY_DELAYS"] = "50,100,150"
	url, _, _ := startService(t, c, env)

	waitDelivered(t, rc, total)
	waitCommitted(t, url, total)
	rc.checkKeyOrder(t, keys, total)
	rc.mu.Lock()
	arrived := slices.Clone(rc.arrived["k03"])
	rc.mu.Unlock()
	if want := []int{3, 3, 3, 3, 13, 23, 33, 43}; !slices.Equal(arrived, want) {
		t.Errorf("key k03 arrived %v, want %v", arrived, want)
	}
	for _, topic := range []string{"work-retry-50", "work-retry-100", "work-retry-150"} {
		if recs := c.ReadAll(t, topic, 1, 10*time.Second); len(recs) == 0 {
			t.Errorf("%s holds nothing", topic)
		}
	}
}

// TestRetryModeConfig: the retry mode and delays are read with clear
// errors, and topics mode brings the range assigner.
func TestRetryModeConfig(t *testing.T) {
	kafkatest.Parallel(t)
	for _, tc := range []struct {
		name      string
		env       map[string]string
		delays    []time.Duration
		assigners []string
		err       string
	}{
		{"defaults", nil, []time.Duration{time.Second, 10 * time.Second, time.Minute}, []string{config.AssignerCooperativeSticky}, ""},
		{"topics", map[string]string{"KAFKA_HANDLER_RETRY_MODE": "topics", "KAFKA_HANDLER_RETRY_DELAYS": " 5, 7 "},
			[]time.Duration{5 * time.Millisecond, 7 * time.Millisecond}, []string{config.AssignerRange}, ""},
		{"topics with range", map[string]string{"KAFKA_HANDLER_RETRY_MODE": "topics", "KAFKA_PARTITION_ASSIGNERS": "range,cooperative-sticky"},
			nil, []string{config.AssignerRange, config.AssignerCooperativeSticky}, ""},
		{"bad mode", map[string]string{"KAFKA_HANDLER_RETRY_MODE": "later"}, nil, nil, "KAFKA_HANDLER_RETRY_MODE"},
		{"zero delay", map[string]string{"KAFKA_HANDLER_RETRY_DELAYS": "1000,0"}, nil, nil, `KAFKA_HANDLER_RETRY_DELAYS: "1000,0" item "0" is not a positive whole number of milliseconds`},
		{"empty item", map[string]string{"KAFKA_HANDLER_RETRY_DELAYS": "1000,,2000"}, nil, nil, `item "" is not a positive whole number`},
		{"fraction", map[string]string{"KAFKA_HANDLER_RETRY_DELAYS": "1.5"}, nil, nil, `item "1.5"`},
		{"topics without range", map[string]string{"KAFKA_HANDLER_RETRY_MODE": "topics", "KAFKA_PARTITION_ASSIGNERS": "cooperative-sticky"}, nil, nil, "KAFKA_PARTITION_ASSIGNERS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := FromEnv(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.delays != nil && !slices.Equal(cfg.RetryDelays, tc.delays) {
				t.Errorf("got delays %v, want %v", cfg.RetryDelays, tc.delays)
			}
			if !slices.Equal(cfg.Kafka.Assigners, tc.assigners) {
				t.Errorf("got assigners %v, want %v", cfg.Kafka.Assigners, tc.assigners)
			}
		})
	}
}
