package streamclient_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/kafkakit/kafkakit/streamclient"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// server serves kafkakit's HTTP API on 127.0.0.1, sending to c.
func server(t *testing.T, c *kafkatest.Cluster, opts ...httpapi.Option) *httptest.Server {
	t.Helper()
	p, err := producer.New(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	srv := httptest.NewServer(httpapi.New(p, opts...))
	t.Cleanup(srv.Close)
	return srv
}

// TestStreamClientReadsEveryAnswerField: the Go client gives back what
// the server wrote: topic, partition, offset and timestamp of a delivered
// record, and code, message and field of a refused line.
func TestStreamClientReadsEveryAnswerField(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("fields", 2))
	srv := server(t, c)
	s, err := streamclient.Open(t.Context(), srv.Client(), srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Second)
	for _, line := range []string{`{"topic":"fields","value":"a","partition":1}`, `{"topic":"fields","valu":"x"}`, `{"topic":"fields","value":"b","partition":1}`} {
		if err := s.Send([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	if err := s.Send([]byte(`{"topic":"fields","value":"late"}`)); err == nil {
		t.Error("Send after Close succeeded, want an error")
	}
	var got []streamclient.Result
	for r := range s.Results() {
		got = append(got, r)
	}
	if err := s.Err(); err != nil || len(got) != 3 {
		t.Fatalf("got %d answers (err %v), want 3", len(got), err)
	}
	for i, r := range []streamclient.Result{got[0], got[2]} {
		if r.Error != nil || r.Topic != "fields" || r.Partition != 1 || r.Offset != int64(i) || r.Timestamp.Before(before) {
			t.Errorf("delivered answer %d: %+v, want topic fields, partition 1, offset %d and a timestamp", i, r, i)
		}
	}
	if e := got[1].Error; e == nil || e.Code != apicontract.CodeInvalidRequest || e.Field != "valu" || !strings.Contains(e.Message, "unknown field") {
		t.Errorf("refused answer: %+v, want invalid_request on field valu", e)
	}
}

// TestStreamRefusedIsTheAPIError: a stream the server refuses is an
// *apicontract.Error with the answer's status and Retry-After, or, for a
// body that is not the API's, an error with the body's text.
func TestStreamRefusedIsTheAPIError(t *testing.T) {
	c := kafkatest.NewCluster(t)
	srv := server(t, c, httpapi.AuthToken("secret"))
	_, err := streamclient.Open(t.Context(), srv.Client(), srv.URL, "wrong")
	if e, ok := errors.AsType[*apicontract.Error](err); !ok || e.Status != http.StatusUnauthorized || e.Code != apicontract.CodeUnauthorized {
		t.Fatalf("wrong token: got %v, want an *apicontract.Error, 401 unauthorized", err)
	}
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Without it net/http would wait to drain the stream's body,
		// which has no end, before answering.
		w.Header().Set("Connection", "close")
		http.Error(w, "upstream down", http.StatusBadGateway)
	}))
	t.Cleanup(plain.Close)
	_, err = streamclient.Open(t.Context(), plain.Client(), plain.URL, "")
	if _, ok := errors.AsType[*apicontract.Error](err); ok || err == nil || !strings.Contains(err.Error(), "upstream down") {
		t.Fatalf("plain-text refusal: got %v, want an error naming the body", err)
	}
}

// TestStreamGoroutinesEndWithoutReadingResults: a caller that sends more
// answers than Results buffers, closes, never reads Results and ends the
// stream's context leaves no goroutine of the stream behind.
func TestStreamGoroutinesEndWithoutReadingResults(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("unread", 1))
	srv := server(t, c)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s, err := streamclient.Open(ctx, srv.Client(), srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	const lines = 1500 // past Results' buffer of 1024
	for range lines {
		if err := s.Send([]byte(`{"topic":"unread","value":"v"}`)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if n := len(s.Results()); n < cap(s.Results()) {
			return fmt.Errorf("%d answers buffered, want a full buffer", n)
		}
		return nil
	})
	cancel()
	kafkatest.WaitFor(t, 10*time.Second, func() error {
		buf := make([]byte, 1<<20)
		if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "streamclient.(*Stream)") {
			return errors.New("a goroutine of the stream still runs")
		}
		return nil
	})
}
