package httpapi

import (
	"context"

	"github.com/kafkakit/kafkakit/consumer"
	"net/http"
	"time"
)

// readyTimeout bounds a readiness check, well under a typical probe
// timeout.
const readyTimeout = 2 * time.Second

// healthz answers 200 while the process can serve HTTP at all.
func (h *Handler) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when the readiness check passes, else 503 with the
// reason.
func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	if h.opts.ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := h.opts.ready(ctx); err != nil {
			writeError(w, &Error{Status: http.StatusServiceUnavailable, Code: CodeNotReady, Message: err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (h *Handler) metrics(w http.ResponseWriter, r *http.Request) {
	if h.opts.metrics == nil {
		writeError(w, &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "metrics are not enabled"})
		return
	}
	h.opts.metrics.ServeHTTP(w, r)
}

// consumers answers GET /kafka/consumers.
func (h *Handler) consumers(w http.ResponseWriter, _ *http.Request) {
	statuses := []consumer.Status{}
	if h.opts.consumers != nil {
		statuses = append(statuses, h.opts.consumers()...)
	}
	writeJSON(w, http.StatusOK, map[string]any{"consumers": statuses})
}
