package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
)

// DefaultTimeout bounds one POST, answer included, unless [Client] gives
// a client of your own. A stalled endpoint then costs a retry, not a
// stuck partition.
const DefaultTimeout = 10 * time.Second

const (
	// maxErrorText caps the answer's body and Location kept in a
	// StatusError: enough to say what went wrong, without letting an
	// endpoint fill logs and dead-letter headers.
	maxErrorText = 512
	// maxDrain is how much of an answer's body is read and dropped so that
	// its connection can be reused; a longer body costs a new connection
	// instead of reading without end.
	maxDrain = 1 << 20
	// maxRetryAfter caps a server's Retry-After, so that one answer cannot
	// park a partition for hours.
	maxRetryAfter = 5 * time.Minute
)

// Handler POSTs messages to a URL. It is safe for concurrent use.
type Handler struct {
	url     string
	client  *http.Client
	header  http.Header
	prepare []func(*http.Request)
}

var _ consumer.Handler = (*Handler)(nil)

// Option configures a Handler.
type Option interface{ apply(*Handler) }

type optionFunc func(*Handler)

func (f optionFunc) apply(h *Handler) { f(h) }

// Client sets the HTTP client, overriding one with a [DefaultTimeout]
// timeout. The Handler uses a copy whose CheckRedirect never follows a
// redirect; c itself is not changed.
func Client(c *http.Client) Option {
	return optionFunc(func(h *Handler) {
		if c != nil {
			h.client = c
		}
	})
}

// Header adds a header to every request, e.g. an Authorization token.
func Header(name, value string) Option {
	return optionFunc(func(h *Handler) { h.header.Add(name, value) })
}

// Prepare calls fn on every request before it is sent, for headers that
// depend on the message's ctx, such as a trace's traceparent. Each request
// has headers of its own, so fn may change them freely; fn is called
// concurrently when messages are handled concurrently.
func Prepare(fn func(*http.Request)) Option {
	return optionFunc(func(h *Handler) { h.prepare = append(h.prepare, fn) })
}

// New returns a Handler POSTing to url.
func New(url string, opts ...Option) *Handler {
	h := &Handler{url: url, client: &http.Client{Timeout: DefaultTimeout}, header: make(http.Header)}
	for _, opt := range opts {
		opt.apply(h)
	}
	client := *h.client // a copy: the caller's client may follow redirects elsewhere
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	h.client = &client
	return h
}

// StatusError is an answer that is not 2xx.
type StatusError struct {
	Status int
	Body   string // the start of the answer's body
	// Location is where a 3xx answer pointed; the redirect is not followed.
	Location string
	// Wait is the server's Retry-After, if it sent one.
	Wait time.Duration
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("webhook: endpoint answered %d", e.Status)
	if e.Location != "" {
		msg += " (Location: " + e.Location + ")"
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// RetryAfter is how long the server asked to wait before retrying; the
// consumer waits at least that long.
func (e *StatusError) RetryAfter() time.Duration { return e.Wait }

// Handle POSTs msg and maps the answer to retry semantics.
func (h *Handler) Handle(ctx context.Context, msg *consumer.Message) error {
	body := NewBody(msg)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body.appendJSON(nil)))
	if err != nil {
		return consumer.Permanent(fmt.Errorf("webhook: %w", err))
	}
	// A clone: Prepare hooks of concurrent requests must not append to
	// slices they share with each other.
	req.Header = h.header.Clone()
	req.Header.Set("Content-Type", "application/json")
	for _, fn := range h.prepare {
		fn(req)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err) // timeouts, refused connections: retry
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorText))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain)) // let the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return statusError(resp, snippet)
}

// statusError maps an answer that is not 2xx to a retryable error, or a
// permanent one when the request itself is wrong and retrying cannot help.
func statusError(resp *http.Response, snippet []byte) error {
	se := &StatusError{Status: resp.StatusCode, Body: errorText(string(bytes.TrimSpace(snippet)))}
	switch code := resp.StatusCode; {
	case code < 200, code >= 300 && code < 400:
		// A misdirected endpoint is usually fixed by its operator: retry,
		// then dead-letter, never count it as delivered.
		se.Location = errorText(resp.Header.Get("Location"))
		return se
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		se.Wait = retryAfter(resp.Header.Get("Retry-After"), time.Now())
		return se
	case code >= 500, code == http.StatusRequestTimeout:
		return se
	}
	return consumer.Permanent(se)
}

// errorText makes s safe to log and to put in a dead letter's header: at
// most maxErrorText bytes, valid UTF-8 (a cut rune or binary body becomes
// U+FFFD).
func errorText(s string) string {
	if len(s) > maxErrorText {
		s = s[:maxErrorText]
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// retryAfter parses Retry-After, in seconds or as an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.Atoi(v); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}
