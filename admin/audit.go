package admin

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"

	"github.com/kafkakit/kafkakit/apicontract"
)

// The actions of the audit trail: the action attribute of its log lines
// and the action label of kafkakit_admin_actions_total.
const (
	ActionCreateTopic  = "create_topic"
	ActionUpdateTopic  = "update_topic"
	ActionDeleteTopic  = "delete_topic"
	ActionResetOffsets = "reset_offsets"
	ActionDeleteGroup  = "delete_group"
	ActionReplay       = "replay"
)

// The outcomes of an audited action: ok (done), dry_run (shown, nothing
// changed), refused (answered 4xx, nothing changed) and failed (answered
// 5xx: the cluster refused or could not be asked).
const (
	OutcomeOK      = "ok"
	OutcomeDryRun  = "dry_run"
	OutcomeRefused = "refused"
	OutcomeFailed  = "failed"
)

// note is what a state-changing handler tells its audit line; audited
// puts one on the request's context.
type note struct {
	target  string
	dryRun  bool
	summary string
}

type noteKey struct{}

// noteOf is the note of r, or a throwaway one when r is not audited.
func noteOf(r *http.Request) *note {
	if n, ok := r.Context().Value(noteKey{}).(*note); ok {
		return n
	}
	return &note{}
}

// maxAuditText bounds the target and summary of an audit line: both can
// come from a request, whose names are checked only by the handler.
const maxAuditText = 512

// audited runs next, then logs one INFO line of what it did, whoever
// asked and whatever the answer, and counts it: the audit trail of every
// call that changes, or in a dry run would change, the cluster. The
// caller is apicontract.CallerName's name, never a token.
func (h *Handler) audited(action string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n := &note{target: cmp.Or(r.PathValue("topic"), r.PathValue("group"))}
		sw := &statusWriter{ResponseWriter: w}
		next(sw, r.WithContext(context.WithValue(r.Context(), noteKey{}, n)))
		status := cmp.Or(sw.status, http.StatusOK)
		outcome := OutcomeOK
		switch {
		case status >= 500:
			outcome = OutcomeFailed
		case status >= 400:
			outcome = OutcomeRefused
		case n.dryRun:
			outcome = OutcomeDryRun
		}
		target, _ := cutText(n.target, maxAuditText)
		summary, _ := cutText(n.summary, maxAuditText)
		h.opts.logger.LogAttrs(r.Context(), slog.LevelInfo, "admin action",
			slog.String("caller", apicontract.CallerName(r.Context())), slog.String("action", action),
			slog.String("target", target), slog.Bool("dry_run", n.dryRun), slog.String("outcome", outcome),
			slog.Int("status", status), slog.String("summary", summary))
		if h.opts.observer != nil {
			h.opts.observer.AdminAction(action, outcome)
		}
	}
}

// refuse answers e and makes it the summary of the request's audit line.
func refuse(w http.ResponseWriter, r *http.Request, e *apicontract.Error) {
	noteOf(r).summary = e.Error()
	apicontract.WriteError(w, e)
}

// statusWriter keeps the status a handler answered, for its audit line.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the writer underneath.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
