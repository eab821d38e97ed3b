// Package webhook is a consumer.Handler that POSTs each message to an HTTP
// endpoint as JSON, for services that would rather receive Kafka messages
// than consume them.
//
// A 2xx answer acknowledges the message. 5xx, 429, timeouts and refused
// connections are worth retrying (429 and 503 honour Retry-After); any other
// 4xx is permanent, so the message goes straight to the dead-letter topic.
package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/kafkakit/kafkakit/consumer"
)

// Body is the JSON POSTed for each message.
type Body struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	// Timestamp is RFC 3339 in UTC with milliseconds.
	Timestamp string `json:"timestamp"`
	// Key is the key as text, or null. A key that is not UTF-8 is
	// base64 and KeyEncoding says so.
	Key         *string `json:"key"`
	KeyEncoding string  `json:"key_encoding,omitempty"`
	// Headers holds the headers whose values are UTF-8 text; the others
	// are in BinaryHeaders, base64. A repeated header keeps its last value.
	Headers       map[string]string `json:"headers"`
	BinaryHeaders map[string]string `json:"binary_headers,omitempty"`
	// Value is the value embedded as JSON when it parses as JSON
	// (ValueEncoding "json"), else a string when it is UTF-8 ("string"),
	// else base64 ("base64"); null for a null value.
	Value         json.RawMessage `json:"value"`
	ValueEncoding string          `json:"value_encoding,omitempty"`
}

// NewBody builds the JSON body for msg.
func NewBody(msg *consumer.Message) Body {
	b := Body{
		Topic:     msg.Topic,
		Partition: msg.Partition,
		Offset:    msg.Offset,
		Timestamp: msg.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		Headers:   make(map[string]string, len(msg.Headers)),
		Value:     json.RawMessage("null"),
	}
	if msg.Key != nil {
		k := string(msg.Key)
		if !utf8.Valid(msg.Key) {
			k, b.KeyEncoding = base64.StdEncoding.EncodeToString(msg.Key), "base64"
		}
		b.Key = &k
	}
	for _, h := range msg.Headers {
		if utf8.Valid(h.Value) {
			b.Headers[h.Key] = string(h.Value)
			delete(b.BinaryHeaders, h.Key)
			continue
		}
		if b.BinaryHeaders == nil {
			b.BinaryHeaders = make(map[string]string)
		}
		b.BinaryHeaders[h.Key] = base64.StdEncoding.EncodeToString(h.Value)
		delete(b.Headers, h.Key)
	}
	switch v := msg.Value; {
	case v == nil:
	case json.Valid(v):
		b.Value, b.ValueEncoding = compact(v), "json"
	case utf8.Valid(v):
		s, _ := json.Marshal(string(v))
		b.Value, b.ValueEncoding = s, "string"
	default:
		s, _ := json.Marshal(base64.StdEncoding.EncodeToString(v))
		b.Value, b.ValueEncoding = s, "base64"
	}
	return b
}

func compact(v []byte) json.RawMessage {
	var buf bytes.Buffer
	if json.Compact(&buf, v) != nil {
		return v
	}
	return buf.Bytes()
}

// Handler POSTs messages to a URL.
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

// Client sets the HTTP client, overriding one with a 10s timeout.
func Client(c *http.Client) Option { return optionFunc(func(h *Handler) { h.client = c }) }

// Header adds a header to every request, e.g. an Authorization token.
func Header(name, value string) Option {
	return optionFunc(func(h *Handler) { h.header.Add(name, value) })
}

// Prepare calls fn on every request before it is sent, for headers that
// depend on the message's ctx, such as a trace's traceparent.
func Prepare(fn func(*http.Request)) Option {
	return optionFunc(func(h *Handler) { h.prepare = append(h.prepare, fn) })
}

// New returns a Handler POSTing to url.
func New(url string, opts ...Option) *Handler {
	h := &Handler{url: url, client: &http.Client{Timeout: 10 * time.Second}, header: make(http.Header)}
	for _, opt := range opts {
		opt.apply(h)
	}
	return h
}

// maxRetryAfter caps a server's Retry-After, so that one answer cannot
// park a partition for hours.
const maxRetryAfter = 5 * time.Minute

// StatusError is a non-2xx answer.
type StatusError struct {
	Status int
	Body   string // the start of the answer's body
	// Wait is the server's Retry-After, if it sent one.
	Wait time.Duration
}

func (e *StatusError) Error() string {
	if e.Body != "" {
		return fmt.Sprintf("webhook answered %d: %s", e.Status, e.Body)
	}
	return fmt.Sprintf("webhook answered %d", e.Status)
}

// RetryAfter is how long the server asked to wait before retrying; the
// consumer waits at least that long.
func (e *StatusError) RetryAfter() time.Duration { return e.Wait }

// Handle POSTs msg and maps the answer to retry semantics.
func (h *Handler) Handle(ctx context.Context, msg *consumer.Message) error {
	body, err := json.Marshal(NewBody(msg))
	if err != nil {
		return consumer.Permanent(fmt.Errorf("webhook: encode message: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return consumer.Permanent(fmt.Errorf("webhook: %w", err))
	}
	for name, values := range h.header {
		req.Header[name] = values
	}
	req.Header.Set("Content-Type", "application/json")
	for _, fn := range h.prepare {
		fn(req)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err) // timeouts, refused connections: retry
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	se := &StatusError{Status: resp.StatusCode, Body: string(bytes.TrimSpace(snippet))}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		se.Wait = retryAfter(resp.Header.Get("Retry-After"), time.Now())
		return se
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusRequestTimeout:
		return se
	}
	return consumer.Permanent(se) // the request itself is wrong: retrying cannot help
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
