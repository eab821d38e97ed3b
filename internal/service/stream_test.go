package service

import (
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/streamclient"
)

// TestStreamLimitsFromTheEnvironment: serve gives streams HTTP_MAX_STREAMS
// places, and closes a stream that sends no line for the read timeout,
// HTTP_READ_HEADER_TIMEOUT + KAFKA_REQUEST_TIMEOUT, which frees its place.
func TestStreamLimitsFromTheEnvironment(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("env-stream", 1))
	url, _, _ := startService(t, c, map[string]string{"HTTP_MAX_STREAMS": "1", "HTTP_READ_HEADER_TIMEOUT": "100", "KAFKA_REQUEST_TIMEOUT": "1000"})
	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/kafka/stream", pr)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the first stream: got %d, want 200", resp.StatusCode)
	}
	_, err = streamclient.Open(t.Context(), http.DefaultClient, url, "")
	var apiErr *apicontract.Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusServiceUnavailable {
		t.Fatalf("a second stream with HTTP_MAX_STREAMS=1: got %v, want 503", err)
	}
	// The silent stream ends after 1.1 s; the deadline only bounds a
	// failure.
	ended := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, resp.Body)
		ended <- err
	}()
	select {
	case <-ended:
	case <-time.After(60 * time.Second):
		t.Fatal("the silent stream was not closed")
	}
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		st, err := streamclient.Open(t.Context(), http.DefaultClient, url, "")
		if err != nil {
			return err
		}
		st.Close()
		for range st.Results() {
		}
		return nil
	})
}
