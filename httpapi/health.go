package httpapi

import (
	"context"

	"net/http"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
)

// readyTimeout bounds a readiness check, well under a typical probe
// timeout.
const readyTimeout = 2 * time.Second

// healthz answers 200 while the process can serve HTTP at all.
func (h *Handler) healthz(w http.ResponseWriter, _ *http.Request) {
	apicontract.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when the readiness check passes, else 503 with the
// reason.
func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	if h.opts.ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := h.opts.ready(ctx); err != nil {
			apicontract.WriteError(w, &apicontract.Error{Status: http.StatusServiceUnavailable, Code: apicontract.CodeNotReady, Message: err.Error()})
			return
		}
	}
	apicontract.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (h *Handler) metrics(w http.ResponseWriter, r *http.Request) {
	if h.opts.metrics == nil {
		apicontract.WriteError(w, &apicontract.Error{Status: http.StatusNotFound, Code: apicontract.CodeNotFound, Message: "metrics are not enabled"})
		return
	}
	h.opts.metrics.ServeHTTP(w, r)
}
