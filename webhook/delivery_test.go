package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/webhook"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The Standard Webhooks reference libraries' test vector.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

// verify checks a call as the Standard Webhooks 1.0 text tells a receiver
// to, written from the text rather than from the sender's code: the key is
// the base64 after "whsec_"; the signed content is
// "{webhook-id}.{webhook-timestamp}.{body}"; webhook-signature holds
// space-separated "v1,<base64 HMAC-SHA256>" entries, one of which must
// match; the timestamp must be within 5 minutes of now.
func verify(secret string, header http.Header, body []byte, now time.Time) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	id, ts, sigs := header.Get("webhook-id"), header.Get("webhook-timestamp"), header.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("missing headers: id %q, timestamp %q, signature %q", id, ts, sigs)
	}
	if strings.Contains(id, ".") {
		return fmt.Errorf("id %q holds a '.'", id)
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("timestamp %q: %v", ts, err)
	}
	if d := now.Sub(time.Unix(secs, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("timestamp %d is %v from now", secs, d)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(sigs) {
		version, enc, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		if got, err := base64.StdEncoding.DecodeString(enc); err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("no signature in %q matches", sigs)
}

func TestSignatureTestVector(t *testing.T) {
	kafkatest.Parallel(t)
	s, err := webhook.ParseSecret(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got := webhook.SignForTest(s, vectorID, vectorTimestamp, []byte(vectorBody)); got != vectorSignature {
		t.Errorf("got %s, want %s", got, vectorSignature)
	}
	h := http.Header{}
	h.Set("webhook-id", vectorID)
	h.Set("webhook-timestamp", strconv.Itoa(vectorTimestamp))
	h.Set("webhook-signature", "v1,bm90IGl0 "+vectorSignature)
	if err := verify(vectorSecret, h, []byte(vectorBody), time.Unix(vectorTimestamp, 0)); err != nil {
		t.Errorf("the verifier refuses the published vector: %v", err)
	}
	if err := verify(vectorSecret, h, []byte(vectorBody+" "), time.Unix(vectorTimestamp, 0)); err == nil {
		t.Error("the verifier accepts a changed body")
	}
}

func TestParseSecret(t *testing.T) {
	kafkatest.Parallel(t)
	long := "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 65))
	tests := []struct{ in, wantErr string }{
		{vectorSecret, ""},
		{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "does not start with whsec_"},
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!", "not standard base64"},
		{"whsec_c2hvcnQ=", "is 5 bytes once decoded; Standard Webhooks wants 24 to 64"},
		{long, "is 65 bytes"},
	}
	for _, tt := range tests {
		s, err := webhook.ParseSecret(tt.in)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%q: %v", tt.in, err)
			}
			for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%+v %#v %x %d %s", s, s, s, s, s), slogJSON(s)} {
				if strings.Contains(out, "MfKQ") || strings.Contains(out, "31 f2") || !strings.Contains(out, "REDACTED") {
					t.Errorf("the secret prints as %s", out)
				}
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%q: got %v, want an error saying %q", tt.in, err, tt.wantErr)
		}
		if err != nil && len(tt.in) > 12 && strings.Contains(err.Error(), tt.in[6:]) {
			t.Errorf("%q: the error %q shows the secret", tt.in, err)
		}
	}
}

func slogJSON(v any) string {
	var b bytes.Buffer
	slog.New(slog.NewJSONHandler(&b, nil)).Info("config", "value", v)
	return b.String()
}

// call is one request a receiver got.
type call struct {
	header http.Header
	body   []byte
}

// receiver records every call and answers with answer.
type receiver struct {
	mu     sync.Mutex
	calls  []call
	answer func(n int, c call, w http.ResponseWriter, r *http.Request)
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c := call{header: r.Header.Clone(), body: body}
	rc.mu.Lock()
	rc.calls = append(rc.calls, c)
	n := len(rc.calls)
	rc.mu.Unlock()
	if rc.answer != nil {
		rc.answer(n, c, w, r)
	}
}

// waitCalls waits for n calls and returns them.
func (rc *receiver) waitCalls(t *testing.T, n int) []call {
	t.Helper()
	kafkatest.WaitFor(t, 60*time.Second, func() error {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if len(rc.calls) < n {
			return fmt.Errorf("%d calls, want %d", len(rc.calls), n)
		}
		return nil
	})
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]call(nil), rc.calls...)
}

// TestSignedDelivery: every attempt is signed, carries the delivery
// metadata, and has the same webhook-id, so a receiver can dedupe.
func TestSignedDelivery(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("signed", 1))
	rc := &receiver{answer: func(n int, _ call, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	c.Produce(t, &kgo.Record{Topic: "signed", Value: []byte("zero")}, &kgo.Record{Topic: "signed", Value: []byte(`{"n":1}`)})
	secret, err := webhook.ParseSecret(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	run(t, c, "signed", webhook.New(srv.URL, webhook.Sign(secret), webhook.Group("billing")),
		consumer.Backoff(time.Millisecond, 5*time.Millisecond))
	calls := rc.waitCalls(t, 3)
	for i, want := range []struct{ attempt, offset string }{{"1", "0"}, {"2", "0"}, {"1", "1"}} {
		h := calls[i].header
		if err := verify(vectorSecret, h, calls[i].body, time.Now()); err != nil {
			t.Errorf("call %d: %v", i, err)
		}
		got := []string{h.Get("kafkakit-attempt"), h.Get("kafkakit-topic"), h.Get("kafkakit-partition"), h.Get("kafkakit-offset")}
		if wantH := []string{want.attempt, "signed", "0", want.offset}; strings.Join(got, " ") != strings.Join(wantH, " ") {
			t.Errorf("call %d: attempt, topic, partition, offset %q, want %q", i, got, wantH)
		}
	}
	id := calls[0].header.Get("webhook-id")
	if !strings.HasPrefix(id, "msg_") || calls[1].header.Get("webhook-id") != id || calls[2].header.Get("webhook-id") == id {
		t.Errorf("webhook-ids %q, %q, %q: want one id for both attempts of a record, another for the next",
			id, calls[1].header.Get("webhook-id"), calls[2].header.Get("webhook-id"))
	}

	// The id also tells groups apart, and is the same after a restart.
	msg := &consumer.Message{Topic: "signed", Offset: 0, Value: []byte("zero"), Attempt: 1}
	for _, tt := range []struct {
		group string
		same  bool
	}{{"billing", true}, {"audit", false}} {
		before := len(rc.waitCalls(t, 3))
		if err := webhook.New(srv.URL, webhook.Sign(secret), webhook.Group(tt.group)).Handle(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
		got := rc.waitCalls(t, before+1)[before].header.Get("webhook-id")
		if (got == id) != tt.same {
			t.Errorf("group %s: webhook-id %q, first %q; want the same: %v", tt.group, got, id, tt.same)
		}
	}
}

func TestParseHeaders(t *testing.T) {
	kafkatest.Parallel(t)
	tests := []struct {
		in      string
		want    http.Header
		wantErr string
	}{
		{"Authorization: Bearer abc", http.Header{"Authorization": {"Bearer abc"}}, ""},
		{"Authorization: Bearer abc; X-Tenant: t1;", http.Header{"Authorization": {"Bearer abc"}, "X-Tenant": {"t1"}}, ""},
		{"Authorization: Bearer abc\r\n\nCookie: a=1; b=2\nX-Tag: a\nX-Tag: b:c",
			http.Header{"Authorization": {"Bearer abc"}, "Cookie": {"a=1; b=2"}, "X-Tag": {"a", "b:c"}}, ""},
		{"", http.Header{}, ""},
		{"Authorization Bearer abc", nil, "header entry 1 has no ':'"},
		{"X-Ok: 1; Bearer abc: def", nil, "header entry 2: the name before ':' is not a valid header name"},
		{"X-Ok: 1\nX-Bad: ab\x00c", nil, "header entry 2 (X-Bad): the value holds a control character"},
		{"webhook-signature: v1,abc", nil, "header entry 1 (webhook-signature): the webhook sets this header itself"},
		{"Content-Type: text/plain", nil, "the webhook sets this header itself"},
	}
	for _, tt := range tests {
		hs, err := webhook.ParseHeaders(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: got %v, want an error saying %q", tt.in, err, tt.wantErr)
			}
			if err != nil && (strings.Contains(err.Error(), "abc") || strings.Contains(err.Error(), "ab\x00c")) {
				t.Errorf("%q: the error %q shows a value", tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		rc := &receiver{}
		srv := httptest.NewServer(rc)
		err = webhook.New(srv.URL, webhook.AddHeaders(hs)).Handle(context.Background(), &consumer.Message{Topic: "t"})
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		got := rc.calls[0].header
		for name, want := range tt.want {
			if g := got.Values(name); strings.Join(g, "|") != strings.Join(want, "|") {
				t.Errorf("%q: header %s %q, want %q", tt.in, name, g, want)
			}
		}
		if hs.Len() != countValues(tt.want) {
			t.Errorf("%q: Len %d, want %d", tt.in, hs.Len(), countValues(tt.want))
		}
		for _, out := range []string{fmt.Sprint(hs), fmt.Sprintf("%+v %#v %x %d %s", hs, hs, hs, hs, hs), slogJSON(hs)} {
			if strings.Contains(out, "abc") || strings.Contains(out, "t1") || strings.Contains(out, "a=1") {
				t.Errorf("%q: the headers print as %s", tt.in, out)
			}
		}
	}
	hs, _ := webhook.ParseHeaders("X-Tenant: t1; Authorization: Bearer abc")
	if got, want := hs.String(), "Authorization: [REDACTED]; X-Tenant: [REDACTED]"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func countValues(h http.Header) int {
	n := 0
	for _, vs := range h {
		n += len(vs)
	}
	return n
}

// TestTimeout: a receiver that hangs costs a retry after the timeout,
// and the message arrives on the next attempt.
func TestTimeout(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("slow", 1))
	release := make(chan struct{})
	defer close(release)
	rc := &receiver{answer: func(n int, _ call, _ http.ResponseWriter, r *http.Request) {
		if n == 1 {
			select { // hang until the caller gives up
			case <-r.Context().Done():
			case <-release:
			}
		}
	}}
	srv := httptest.NewServer(rc)
	defer srv.Close()

	start := time.Now()
	err := webhook.New(srv.URL, webhook.Timeout(200*time.Millisecond)).Handle(context.Background(), &consumer.Message{Topic: "slow"})
	if err == nil || consumer.IsPermanent(err) || !strings.Contains(err.Error(), "no answer within 200ms") {
		t.Fatalf("got %v, want a retryable error naming the timeout", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("Handle took %v with a 200ms timeout", d)
	}

	rc.mu.Lock()
	rc.calls = nil
	rc.mu.Unlock()
	c.Produce(t, &kgo.Record{Topic: "slow", Value: []byte("v")})
	run(t, c, "slow", webhook.New(srv.URL, webhook.Timeout(200*time.Millisecond)), consumer.Backoff(time.Millisecond, 5*time.Millisecond))
	calls := rc.waitCalls(t, 2)
	if a := calls[1].header.Get("kafkakit-attempt"); a != "2" {
		t.Errorf("second call is attempt %q, want 2", a)
	}
}

// TestReceiverDirectedOutcome: a 2xx answer's {"status": ...} decides:
// RETRY retries, DROP commits without a dead letter, DEAD_LETTER goes
// straight to the dead-letter topic, and any other body is success.
func TestReceiverDirectedOutcome(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("directed", 1))
	rc := &receiver{answer: func(n int, c call, w http.ResponseWriter, _ *http.Request) {
		status := map[string]string{"drop": "DROP", "dead": "DEAD_LETTER", "other": "MAYBE", "lower": "success"}[string(c.body)]
		if string(c.body) == "retry" && c.header.Get("kafkakit-attempt") == "1" {
			status = "RETRY"
		}
		if string(c.body) == "plain" {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte(`{"status":"DEAD_LETTER"}`))
			return
		}
		if status != "" {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprintf(w, `{"status":%q}`, status)
		}
	}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	values := []string{"retry", "drop", "plain", "other", "lower", "empty", "dead", "after"}
	for _, v := range values {
		c.Produce(t, &kgo.Record{Topic: "directed", Value: []byte(v)})
	}
	h := webhook.New(srv.URL, webhook.As(webhook.FormatCloudEvents))
	run(t, c, "directed", h, consumer.Retries(3), consumer.Backoff(time.Millisecond, 5*time.Millisecond))

	calls := rc.waitCalls(t, len(values)+1)
	var got []string
	for _, cl := range calls {
		got = append(got, string(cl.body))
	}
	if want := append([]string{"retry"}, values...); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("calls %q, want %q: one retry for RETRY, one call for every other record", got, want)
	}
	// The partition is handled in order, so the first dead letter is
	// "dead" only if "drop" was never dead-lettered.
	dead := c.ReadAll(t, "directed.dlq", 1, 60*time.Second)
	if string(dead[0].Value) != "dead" {
		t.Errorf("first dead letter %q, want dead", dead[0].Value)
	}
	msg, _ := (&consumer.Message{Headers: dead[0].Headers}).Header(consumer.HeaderExceptionMessage)
	if !strings.Contains(string(msg), "answered 202 with status DEAD_LETTER") {
		t.Errorf("exception message %q, want the status", msg)
	}
}

// TestDropIsSkipped: a drop is an error that matches ErrDropped, marked
// for the consumer to skip, and not permanent.
func TestDropIsSkipped(t *testing.T) {
	kafkatest.Parallel(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"DROP"}`))
	}))
	defer srv.Close()
	err := webhook.New(srv.URL).Handle(context.Background(), &consumer.Message{})
	if !errors.Is(err, webhook.ErrDropped) || !consumer.IsSkip(err) || consumer.IsPermanent(err) {
		t.Errorf("got %v, want an error matching ErrDropped, marked Skip, not permanent", err)
	}
}

// TestTimeoutCoversTheBody: the timeout covers the whole answer. A
// receiver that sends 200 headers at once and its body after the timeout
// has not answered: the call is a retryable failure, never a delivery,
// whatever the late body would have said, and the message is delivered by
// the next attempt.
func TestTimeoutCoversTheBody(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("late-body", 1))
	release := make(chan struct{})
	defer close(release)
	rc := &receiver{answer: func(n int, _ call, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if n > 2 {
			fmt.Fprint(w, `{"status":"SUCCESS"}`)
			return
		}
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush() // the headers go at once
		// The body only after the caller gave up.
		select {
		case <-r.Context().Done():
		case <-release:
		}
		fmt.Fprint(w, `{"status":"RETRY"}`)
	}}
	srv := httptest.NewServer(rc)
	defer srv.Close()

	err := webhook.New(srv.URL, webhook.Timeout(200*time.Millisecond)).Handle(context.Background(), &consumer.Message{Topic: "late-body"})
	if err == nil || consumer.IsPermanent(err) || !strings.Contains(err.Error(), "answer 200 not complete within 200ms") {
		t.Fatalf("got %v, want a retryable error saying the answer did not complete in time", err)
	}

	c.Produce(t, &kgo.Record{Topic: "late-body", Value: []byte("v")})
	run(t, c, "late-body", webhook.New(srv.URL, webhook.Timeout(200*time.Millisecond)), consumer.Backoff(time.Millisecond, 5*time.Millisecond))
	calls := rc.waitCalls(t, 3)
	if a := calls[2].header.Get("kafkakit-attempt"); a != "2" {
		t.Errorf("the call after the cut answer is attempt %q, want 2", a)
	}
}
