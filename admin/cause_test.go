package admin_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/webhook"
)

// webhookError is the error a real webhook call gets from a server that
// answers with answer, within timeout.
func webhookError(t *testing.T, timeout time.Duration, answer http.HandlerFunc) error {
	t.Helper()
	srv := httptest.NewServer(answer)
	t.Cleanup(srv.Close)
	return callWebhook(t, srv.URL, timeout)
}

func callWebhook(t *testing.T, url string, timeout time.Duration) error {
	t.Helper()
	h := webhook.New(url, webhook.Timeout(timeout))
	err := h.Handle(t.Context(), &consumer.Message{Topic: "payments", Key: []byte("p1"), Value: []byte(`{"payment":1}`), Timestamp: time.Now()})
	if err == nil {
		t.Fatal("the webhook call succeeded, want a failure")
	}
	return err
}

// letterHeaders are the exception type and message a dead letter of err
// carries, as the consumer writes them.
func letterHeaders(err error) (exception, message string) {
	dl := consumer.DeadLetter(&consumer.Message{Topic: "payments", Timestamp: time.Now()}, err, 3, "billing", "payments.dlt", time.Now())
	for _, h := range dl.Headers {
		switch h.Key {
		case consumer.HeaderExceptionFQCN:
			exception = string(h.Value)
		case consumer.HeaderExceptionMessage:
			message = string(h.Value)
		}
	}
	return exception, message
}

// TestCauseInWords: the failures of real webhook calls, and a handler's
// own errors, read as an operator would say them once dead-lettered.
func TestCauseInWords(t *testing.T) {
	status := func(code int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if code == http.StatusFound {
				w.Header().Set("Location", "/elsewhere")
			}
			if strings.HasPrefix(body, "{") {
				w.Header().Set("Content-Type", "application/json")
			}
			w.WriteHeader(code)
			fmt.Fprint(w, body)
		}
	}
	// silent never answers; slow sends its status and never ends the
	// body: both hold the call until it gives up, and are let go when the
	// test ends.
	stop := make(chan struct{})
	hold := func(r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}
	silent := func(w http.ResponseWriter, r *http.Request) { hold(r) }
	slow := func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, "partial")
		w.(http.Flusher).Flush()
		hold(r)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"500", webhookError(t, 5*time.Second, status(500, "payments are down")), "HTTP 500 from the webhook"},
		{"503", webhookError(t, 5*time.Second, status(503, "")), "HTTP 503 from the webhook"},
		{"400, permanent", webhookError(t, 5*time.Second, status(400, "bad payment")), "HTTP 400 from the webhook"},
		{"302", webhookError(t, 5*time.Second, status(302, "")), "HTTP 302 from the webhook (a redirect, not followed)"},
		{"dead letter asked", webhookError(t, 5*time.Second, status(200, `{"status":"DEAD_LETTER"}`)), "the webhook answered HTTP 200 asking for DEAD_LETTER"},
		{"no answer", webhookError(t, 200*time.Millisecond, silent), "timeout: no answer from the webhook within 200ms"},
		{"answer not ended", webhookError(t, 200*time.Millisecond, slow), "timeout: the webhook's answer (HTTP 200) did not end within 200ms"},
		{"unreachable", callWebhook(t, closed.URL, 5*time.Second), "the webhook could not be reached"},
		{"handler error", errors.New("the ledger is locked"), "handler error"},
		{"wrapped handler error", fmt.Errorf("charge: %w", errors.New("card declined")), "handler error"},
		{"permanent handler error", consumer.Permanent(errors.New("no such account")), "handler error"},
		{"panic", &consumer.PanicError{Value: "nil map"}, "the handler panicked"},
		{"handler timeout", fmt.Errorf("charge: %w", context.DeadlineExceeded), "timeout: the handler ran out of time"},
	}
	t.Cleanup(func() { close(stop) }) // before the servers close, which wait for their handlers
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			exception, message := letterHeaders(tc.err)
			if got := admin.Cause(exception, message); got != tc.want {
				t.Errorf("the dead letter of %s (%s: %s) reads %q, want %q", tc.name, exception, message, got, tc.want)
			}
		})
	}
	// Spring's and Kafka Connect's dead letters name Java classes, and
	// headers anyone may write can say anything.
	for _, tc := range []struct{ exception, message, want string }{
		{"org.apache.kafka.connect.errors.DataException", "Converting byte[] to Kafka Connect data failed", "DataException"},
		{"org.springframework.kafka.listener.ListenerExecutionFailedException", "Listener failed", "ListenerExecutionFailedException"},
		{"", "", ""},
		{"*webhook.StatusError", "webhook: endpoint answered", "the webhook call failed"},
		{"*webhook.StatusError", "webhook: endpoint answered 5000", "the webhook call failed"},
		{"weird.", "", "handler error"},
		{strings.Repeat("x.", 1000), strings.Repeat("\x00", 1000), "handler error"},
	} {
		if got := admin.Cause(tc.exception, tc.message); got != tc.want {
			t.Errorf("Cause(%.40q, %.40q) = %q, want %q", tc.exception, tc.message, got, tc.want)
		}
	}
}

// TestDeadLettersSayTheirCause: GET /kafka/dlq/{topic} summarizes dead
// letters by cause, so a webhook's 500s and 503s are told apart, and
// gives each letter of its page its type and cause, read before the
// letter was cut to its share of the page.
func TestDeadLettersSayTheirCause(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("payments", 1), kafkatest.Topic("payments.dlt", 1))
	deadLetter(t, c, "payments", "payments.dlt", 2, &webhook.StatusError{Status: 500, Body: "payments are down"})
	deadLetter(t, c, "payments", "payments.dlt", 1, &webhook.StatusError{Status: 503})
	// A letter whose headers do not fit its share: the failure is read
	// from the whole record.
	big := fmt.Errorf("%s: %w", strings.Repeat("context ", 40_000), errors.New("the ledger is locked"))
	deadLetter(t, c, "payments", "payments.dlt", 1, big)
	srv := serve(t, c)
	var sum struct {
		Failures []admin.Failure
		Messages []struct {
			Offset     int64
			Truncated  bool
			DeadLetter admin.LetterFailure `json:"dead_letter"`
		}
	}
	if code := get(t, srv, "/kafka/dlq/payments.dlt?limit=4", "", &sum); code != 200 {
		t.Fatalf("status %d", code)
	}
	got := map[string]int{}
	for _, f := range sum.Failures {
		got[f.Exception+" / "+f.Cause] = f.Count
	}
	want := map[string]int{"*webhook.StatusError / HTTP 500 from the webhook": 2, "*webhook.StatusError / HTTP 503 from the webhook": 1,
		"*fmt.wrapError / handler error": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("failures %v, want %v", got, want)
	}
	if len(sum.Messages) != 4 {
		t.Fatalf("%d letters, want 4", len(sum.Messages))
	}
	for _, m := range sum.Messages {
		wantCause, wantType := "HTTP 500 from the webhook", "*webhook.StatusError"
		switch m.Offset {
		case 2:
			wantCause = "HTTP 503 from the webhook"
		case 3:
			wantCause, wantType = "handler error", "*fmt.wrapError"
			if !m.Truncated {
				t.Errorf("letter 3 is not cut, want it cut to its share")
			}
		}
		if m.DeadLetter.Cause != wantCause || m.DeadLetter.Exception != wantType {
			t.Errorf("letter %d: %+v, want %s, %s", m.Offset, m.DeadLetter, wantType, wantCause)
		}
	}
}
