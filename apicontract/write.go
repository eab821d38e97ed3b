package apicontract

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// WriteJSON answers status with v encoded as JSON and a newline. A value
// that does not encode is answered 500 in the error envelope.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"encoding the answer failed"}}`)
	}
	// The newline is written on its own, so that a large answer is not
	// copied to append it.
	writeHeader(w, status, len(b)+1)
	if _, err := w.Write(b); err == nil {
		_, _ = w.Write([]byte{'\n'})
	}
}

// WriteBody answers status with body, JSON already encoded (its newline
// included).
func WriteBody(w http.ResponseWriter, status int, body []byte) {
	writeHeader(w, status, len(body))
	_, _ = w.Write(body)
}

// writeHeader sends a JSON answer's header with its length, so that
// clients need not decode a chunked answer.
func writeHeader(w http.ResponseWriter, status, length int) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(length))
	w.WriteHeader(status)
}

// WriteError answers e in the error envelope, {"error":{...}}, with its
// Retry-After header when e has one.
func WriteError(w http.ResponseWriter, e *Error) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	WriteJSON(w, e.Status, Envelope{Error: e})
}

// Envelope is the body of every error answer, and the result of a message
// that failed in a batch or stream.
type Envelope struct {
	Error *Error `json:"error"`
}

// WriteUnauthorized answers 401, with the WWW-Authenticate challenge, a
// request whose bearer token is missing or unknown (see Guard).
func WriteUnauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="kafkakit"`)
	WriteError(w, &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: "missing or wrong bearer token"})
}

// Unmatched answers, in the API's JSON, a request that no route of a
// ServeMux takes: 405 naming the allowed methods when another method
// takes the path, else 404. next is what the ServeMux's Handler method
// returned for r; its own plain-text answer is learnt, then rewritten.
func Unmatched(w http.ResponseWriter, r *http.Request, next http.Handler) {
	var probe probeWriter
	next.ServeHTTP(&probe, r)
	allow := probe.header.Get("Allow")
	if probe.status != http.StatusMethodNotAllowed || allow == "" {
		WriteError(w, &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "no route " + r.URL.Path})
		return
	}
	w.Header().Set("Allow", allow)
	WriteError(w, &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
		Message: r.Method + " is not allowed on " + r.URL.Path + "; use " + allow})
}

// probeWriter keeps the status and headers of ServeMux's plain-text
// answers and drops their bodies.
type probeWriter struct {
	header http.Header
	status int
}

func (p *probeWriter) Header() http.Header {
	if p.header == nil {
		p.header = http.Header{}
	}
	return p.header
}

func (p *probeWriter) Write(b []byte) (int, error) { return len(b), nil }

func (p *probeWriter) WriteHeader(status int) { p.status = status }
