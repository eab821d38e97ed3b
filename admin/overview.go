package admin

import (
	"context"
	"net/http"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
)

// overviewWait bounds how long Overview waits for the cluster: a page
// is served without its first figures rather than late.
const overviewWait = 2 * time.Second

// Overview is what the console's overview shows first: the answers of
// GET /kafka/topics and GET /kafka/groups, and the /kafka/live events
// the handler keeps.
type Overview struct {
	Topics []Topic `json:"topics"`
	Groups []Group `json:"groups"`
	// Live is the kept live events, oldest first; nil when the handler
	// has no metrics registry (GET /kafka/live answers 404).
	Live []LiveEvent `json:"live"`
}

// Overview reads the overview's first figures for r, a request for the
// console's page, so that the page can be served with them in it. ok is
// false when r could not read them from the admin API (its bearer token
// with the read scope:
// a browser's request for a page carries none, so with a token set the
// page always loads its figures itself), when the handler is at its
// MaxInFlight, or when the cluster does not answer within 2 seconds.
// When live figures are on, it also takes a sample, so that the first
// event follows a second later.
func (h *Handler) Overview(r *http.Request) (Overview, bool) {
	if !h.opts.guard.Allows(r, apicontract.ScopeRead) || !h.inFlight.take() {
		return Overview{}, false
	}
	defer h.inFlight.give()
	ctx, cancel := context.WithTimeout(r.Context(), min(overviewWait, h.opts.timeout))
	defer cancel()
	var o Overview
	var err error
	if o.Topics, err = h.listTopics(ctx); err != nil {
		return Overview{}, false
	}
	if o.Groups, err = h.listGroups(ctx); err != nil {
		return Overview{}, false
	}
	if h.opts.gatherer != nil {
		if err := h.live.tick(h, time.Now()); err != nil {
			h.opts.logger.Warn("live figures", "error", err)
		}
		o.Live = append([]LiveEvent{}, h.live.after(0)...) // [] while none: live figures are on
	}
	return o, true
}
