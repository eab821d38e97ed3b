package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
)

// DefaultTimeout bounds one POST, the whole answer included (its body
// too), unless [Timeout] says otherwise. A stalled endpoint then costs a retry, not a stuck
// partition.
const DefaultTimeout = 10 * time.Second

// The delivery metadata headers every call carries.
const (
	// HeaderAttempt counts deliveries of the record in this process,
	// from 1.
	HeaderAttempt   = "kafkakit-attempt"
	HeaderTopic     = "kafkakit-topic"
	HeaderPartition = "kafkakit-partition"
	HeaderOffset    = "kafkakit-offset"
)

const (
	// maxAnswer is how much of an answer's body is read to find a
	// receiver's {"status": ...}.
	maxAnswer = 64 << 10
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
	timeout time.Duration
	header  http.Header
	prepare []func(*http.Request)
	secret  Secret
	group   string
	format  Format
}

var _ consumer.Handler = (*Handler)(nil)

// Option configures a Handler.
type Option interface{ apply(*Handler) }

type optionFunc func(*Handler)

func (f optionFunc) apply(h *Handler) { f(h) }

// Client sets the HTTP client, overriding http.DefaultClient's settings.
// Its own Timeout, if any, applies besides [Timeout]. The Handler uses a copy whose CheckRedirect never follows a
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

// AddHeaders adds hs, as [ParseHeaders] read them, to every request.
func AddHeaders(hs Headers) Option {
	return optionFunc(func(h *Handler) {
		for name, values := range hs.h {
			for _, v := range values {
				h.header.Add(name, v)
			}
		}
	})
}

// Timeout bounds each call, the whole answer included: an answer whose
// body has not arrived in full by then is a failed call, retried, whatever
// its status. d <= 0 keeps [DefaultTimeout].
func Timeout(d time.Duration) Option {
	return optionFunc(func(h *Handler) {
		if d > 0 {
			h.timeout = d
		}
	})
}

// Sign signs every call as Standard Webhooks 1.0 says: webhook-id,
// webhook-timestamp (the attempt's time in Unix seconds) and
// webhook-signature. By default calls are not signed.
func Sign(s Secret) Option {
	return optionFunc(func(h *Handler) { h.secret = s })
}

// Group names the consumer group the handler serves, which goes into each
// record's webhook-id (and ce-id) so that two groups delivering one record
// to one receiver are not taken for a redelivery. Default "".
func Group(id string) Option {
	return optionFunc(func(h *Handler) { h.group = id })
}

// As sets the request format; the default is [FormatKafkakit]. A format
// other than the two known ones is taken as FormatKafkakit.
func As(f Format) Option {
	return optionFunc(func(h *Handler) { h.format = f })
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
	h := &Handler{url: url, client: &http.Client{}, timeout: DefaultTimeout, header: make(http.Header), format: FormatKafkakit}
	for _, opt := range opts {
		opt.apply(h)
	}
	client := *h.client // a copy: the caller's client may follow redirects elsewhere
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	h.client = &client
	return h
}

// StatusError is an answer that is not 2xx, or a 2xx whose body asks for
// a retry, a drop or a dead letter.
type StatusError struct {
	Status int
	// Outcome is the status a 2xx answer's body gave: RETRY, DROP or
	// DEAD_LETTER; "" for an answer that is not 2xx.
	Outcome string
	Body    string // the start of the answer's body
	// Location is where a 3xx answer pointed; the redirect is not followed.
	Location string
	// Wait is the server's Retry-After, if it sent one.
	Wait time.Duration
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("webhook: endpoint answered %d", e.Status)
	if e.Outcome != "" {
		msg += " with status " + e.Outcome
	}
	if e.Location != "" {
		msg += " (Location: " + e.Location + ")"
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Is makes an answer with status DROP match [ErrDropped].
func (e *StatusError) Is(target error) bool { return target == ErrDropped && e.Outcome == StatusDrop }

// RetryAfter is how long the server asked to wait before retrying; the
// consumer waits at least that long.
func (e *StatusError) RetryAfter() time.Duration { return e.Wait }

// Handle POSTs msg and maps the answer to retry semantics.
func (h *Handler) Handle(ctx context.Context, msg *consumer.Message) error {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := h.request(ctx, msg)
	if err != nil {
		return consumer.Permanent(fmt.Errorf("webhook: %w", err))
	}
	resp, err := h.client.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("webhook: no answer within %v: %w", h.timeout, err)
		}
		return fmt.Errorf("webhook: %w", err) // refused connections and the like: retry
	}
	defer resp.Body.Close()
	// The timeout covers the body too: an answer cut short, by the
	// timeout or a broken connection, is no answer, whatever its status
	// said, since its body may have asked for a retry.
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err == nil {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain)) // let the connection be reused
	}
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("webhook: answer %d not complete within %v: %w", resp.StatusCode, h.timeout, err)
		}
		return fmt.Errorf("webhook: answer %d cut short: %w", resp.StatusCode, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return outcome(resp, answer)
	}
	return statusError(resp, answer)
}

// request builds the call for msg in the handler's format, with the
// delivery metadata and, when a secret is set, the signature.
func (h *Handler) request(ctx context.Context, msg *consumer.Message) (*http.Request, error) {
	// A clone: Prepare hooks of concurrent requests must not append to
	// slices they share with each other.
	header := h.header.Clone()
	id := messageID(h.group, msg)
	var body []byte
	if h.format == FormatCloudEvents {
		body = msg.Value
		cloudEventHeaders(header, msg, id)
	} else {
		b := NewBody(msg)
		body = b.appendJSON(nil)
		header.Set("Content-Type", "application/json")
	}
	header.Set(HeaderAttempt, strconv.Itoa(msg.Attempt))
	header.Set(HeaderTopic, msg.Topic)
	header.Set(HeaderPartition, strconv.FormatInt(int64(msg.Partition), 10))
	header.Set(HeaderOffset, strconv.FormatInt(msg.Offset, 10))
	if h.secret.key != nil {
		ts := time.Now().Unix()
		header.Set(HeaderWebhookID, id)
		header.Set(HeaderWebhookTimestamp, strconv.FormatInt(ts, 10))
		header.Set(HeaderWebhookSignature, h.secret.sign(id, ts, body))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = header
	for _, fn := range h.prepare {
		fn(req)
	}
	return req, nil
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
