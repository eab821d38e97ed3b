package producer_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
)

// post sends body to /kafka/send of h and returns the answer.
func post(t *testing.T, h http.Handler, body string) (*http.Response, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	resp, err := http.Post(srv.URL+"/kafka/send", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestHTTPRecordOverBatchLimitIs413NamingIt(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("big", 1))
	p := newProducer(t, c)
	body, _ := json.Marshal(map[string]string{"topic": "big", "value": strings.Repeat("x", 999_950)})
	resp, got := post(t, httpapi.New(p), string(body))
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(got, "batch limit of 1,000,012 bytes (KAFKA_BATCH_SIZE)") {
		t.Errorf("got %d %s, want 413 naming KAFKA_BATCH_SIZE", resp.StatusCode, got)
	}
}

func TestHTTPNoBrokersIs503WithRetryAfter(t *testing.T) {
	kafkatest.Parallel(t)
	cfg := config.Default()
	cfg.Brokers = []string{closedPort(t)}
	cfg.ShutdownTimeout = 100 * time.Millisecond // the first message stays buffered
	p, err := producer.New(cfg, producer.UnavailableAfter(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	h := httpapi.New(p, httpapi.RequestTimeout(time.Minute))
	resp, got := post(t, h, `{"topic":"t","value":"v"}`)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(got, "broker_unavailable") || !strings.Contains(got, "KAFKA_BROKERS") {
		t.Errorf("got %d (Retry-After %q) %s, want 503 broker_unavailable with Retry-After and a hint",
			resp.StatusCode, resp.Header.Get("Retry-After"), got)
	}
}
