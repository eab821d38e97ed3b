package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/idempotency"
	"github.com/kafkakit/kafkakit/internal/logattr"
)

// maxIdempotencyKey bounds an Idempotency-Key's length.
const maxIdempotencyKey = 255

// Idempotency makes /kafka/send and /kafka/send-batch honour the
// Idempotency-Key header (draft-ietf-httpapi-idempotency-key-header)
// through store. The default, nil, ignores the header.
func Idempotency(store *idempotency.Store) Option {
	return optionFunc(func(o *options) {
		o.idempotency = nil
		if store != nil {
			o.idempotency = func() *idempotency.Store { return store }
		}
	})
}

// IdempotencyFrom is Idempotency with a store that may not be open yet:
// while store returns nil, a request with an Idempotency-Key is answered
// 503 and nothing is sent.
func IdempotencyFrom(store func() *idempotency.Store) Option {
	return optionFunc(func(o *options) { o.idempotency = store })
}

// idempotent wraps a send route: a request with an Idempotency-Key is
// processed once per caller and key; a repeat gets the first answer.
func (h *Handler) idempotent(next http.HandlerFunc) http.HandlerFunc {
	if h.opts.idempotency == nil {
		return next
	}
	return func(w http.ResponseWriter, r *http.Request) {
		raw, present := r.Header["Idempotency-Key"]
		if !present {
			next(w, r)
			return
		}
		store := h.opts.idempotency()
		if store == nil {
			apicontract.WriteError(w, &apicontract.Error{Status: http.StatusServiceUnavailable, Code: apicontract.CodeBrokerUnavailable, RetryAfter: 5,
				Message: "Idempotency-Key state (" + idempotency.Topic + ") is not readable yet; nothing was sent"})
			return
		}
		key, apiErr := parseIdempotencyKey(raw)
		var body []byte
		if apiErr == nil {
			body, apiErr = h.readBody(w, r)
		}
		if apiErr != nil {
			apicontract.WriteError(w, apiErr)
			return
		}
		k := callerScope(r) + "\x00" + key + "\x00"
		fp := fingerprint(r, body)
		// From here the request goes on if its client goes away: the
		// claim, the send and its answer are written, bounded by the
		// request timeout, so that a retry with the key learns the real
		// outcome rather than a cancellation.
		r = r.WithContext(context.WithoutCancel(r.Context()))
		ctx, cancel := context.WithTimeout(r.Context(), h.opts.requestTimeout)
		defer cancel()
		claim, prior, err := store.Claim(ctx, k, fp)
		switch {
		case err != nil:
			e := sendError(err)
			e.Message = "the Idempotency-Key could not be checked; nothing was sent: " + e.Message
			apicontract.WriteError(w, e)
			return
		case prior != nil:
			replay(w, prior, fp)
			return
		}
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		c := &capture{exchange: w, header: http.Header{}}
		next(c, r)
		h.remember(r.Context(), store, c, k, claim, fp)
		for name, v := range c.header {
			w.Header()[name] = v
		}
		w.WriteHeader(c.status)
		_, _ = w.Write(c.body.Bytes())
	}
}

// remember writes the answer of claim, or gives the key up when nothing
// was sent, before the client hears the answer, so that a repeat made
// after the answer is always a replay.
func (h *Handler) remember(ctx context.Context, store *idempotency.Store, c *capture, k, claim, fp string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.opts.requestTimeout)
	defer cancel()
	var err error
	if c.release || nothingSent(c.status, c.body.Bytes()) {
		err = store.Release(ctx, k, claim, fp)
	} else {
		err = store.Complete(ctx, k, claim, fp, c.status, c.body.Bytes())
	}
	if err != nil {
		// The claim expires with its lease; a repeat after that is
		// processed again.
		h.opts.logger.LogAttrs(ctx, slog.LevelError, "idempotency: remembering an answer failed", logattr.Err(err))
	}
}

// nothingSent reports an answer saying that no message was accepted,
// which a client is meant to retry with the same key: a 503 whose error
// is one of these codes. Such an answer is always a whole-request error,
// written by apicontract.WriteError.
func nothingSent(status int, body []byte) bool {
	if status != http.StatusServiceUnavailable {
		return false
	}
	var env apicontract.Envelope
	if json.Unmarshal(body, &env) != nil || env.Error == nil {
		return false
	}
	switch env.Error.Code {
	case apicontract.CodeOverloaded, apicontract.CodeShuttingDown, apicontract.CodeBrokerUnavailable:
		return true
	}
	return false
}

// replay answers a repeat of a request whose key is known.
func replay(w http.ResponseWriter, prior *idempotency.Prior, fp string) {
	switch {
	case prior.Fingerprint != fp:
		apicontract.WriteError(w, &apicontract.Error{Status: http.StatusUnprocessableEntity, Code: apicontract.CodeIdempotencyMismatch,
			Message: "this Idempotency-Key was used with a different request; use a new key for a new request"})
	case !prior.Done:
		apicontract.WriteError(w, &apicontract.Error{Status: http.StatusConflict, Code: apicontract.CodeIdempotencyConflict, RetryAfter: 1,
			Message: "a request with this Idempotency-Key is still being processed; retry later"})
	default:
		w.Header().Set("Idempotent-Replayed", "true")
		apicontract.WriteBody(w, prior.Status, prior.Body)
	}
}

// parseIdempotencyKey reads the header's one value: a structured-field
// string ("...") as the draft says, or, leniently, the bare text.
func parseIdempotencyKey(values []string) (string, *apicontract.Error) {
	if len(values) != 1 {
		return "", invalid("Idempotency-Key", "must be sent once")
	}
	v := strings.TrimSpace(values[0])
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if v == "" || len(v) > maxIdempotencyKey {
		return "", invalid("Idempotency-Key", "must hold 1 to %d characters", maxIdempotencyKey)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e || v[i] == '"' || v[i] == '\\' {
			return "", invalid("Idempotency-Key", "must be printable ASCII without quotes or backslashes")
		}
	}
	return v, nil
}

// callerScope names who sent r: a hash of its bearer credentials, so that
// callers with different tokens never share keys, and the token itself is
// never stored.
func callerScope(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return "-"
	}
	sum := sha256.Sum256([]byte(auth))
	return hex.EncodeToString(sum[:16])
}

// fingerprint identifies a request: its route, query, media type and body.
func fingerprint(r *http.Request, body []byte) string {
	h := sha256.New()
	for _, s := range []string{r.Method, r.URL.Path, r.URL.RawQuery, mediaType(r)} {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// capture holds a handler's answer until it is remembered.
type capture struct {
	exchange http.ResponseWriter // the real writer, for the access log
	header   http.Header
	status   int
	body     bytes.Buffer
	release  bool // nothing of the request was written: see nothingWritten and nothingSent
}

func (c *capture) Header() http.Header { return c.header }

func (c *capture) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}

func (c *capture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(b)
}

// nothingWritten marks an answer after which nothing of the request is
// in Kafka, so that a repeat of its Idempotency-Key is processed anew:
// an aborted transaction. (An error that says nothing was sent is
// recognised by nothingSent.)
func nothingWritten(w http.ResponseWriter) {
	if c, ok := w.(*capture); ok {
		c.release = true
	}
}
