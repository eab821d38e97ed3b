package httpapi

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"strings"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/internal/logattr"
	"github.com/kafkakit/kafkakit/producer"
)

// AsyncSender is a Sender that can hand a message over without waiting
// for its acknowledgement; *producer.Producer implements it. Streams and
// Prefer: respond-async use it when the Sender has it, and otherwise wait
// for Send in a goroutine per message, which [Handler.Close] waits for.
type AsyncSender interface {
	// SendAsync buffers msg and calls done exactly once with its outcome.
	// ctx's cancellation does not withdraw the message.
	SendAsync(ctx context.Context, msg producer.Message, done func(producer.Result))
}

var _ AsyncSender = (*producer.Producer)(nil)

// sendAsync hands msg over to the producer; done gets its outcome.
func (h *Handler) sendAsync(ctx context.Context, msg producer.Message, done func(producer.Result)) {
	if as, ok := h.sender.(AsyncSender); ok {
		as.SendAsync(ctx, msg, done)
		return
	}
	ctx = context.WithoutCancel(ctx)
	h.sends.Go(func() {
		res, err := h.sender.Send(ctx, msg)
		res.Err = err
		done(res)
	})
}

// prefersAsync reports whether r carries Prefer: respond-async (RFC 7240),
// alone or among other preferences.
func prefersAsync(r *http.Request) bool {
	for _, v := range r.Header.Values("Prefer") {
		for pref := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(pref, ";")
			if strings.EqualFold(strings.TrimSpace(name), "respond-async") {
				return true
			}
		}
	}
	return false
}

// respondAsync hands msgs over and answers 202 at once with a request id,
// before any broker has acknowledged them. A message that then fails is
// logged with the id and its index, and counted through AsyncFailed:
// nobody else will hear of it.
func (h *Handler) respondAsync(w http.ResponseWriter, r *http.Request, msgs []producer.Message) {
	id := rand.Text()
	for i, msg := range msgs {
		h.sendAsync(r.Context(), msg, func(res producer.Result) {
			if res.Err != nil {
				h.asyncFailed(id, i, res)
			}
		})
	}
	w.Header().Set("Preference-Applied", "respond-async")
	apicontract.WriteBody(w, http.StatusAccepted, []byte(`{"request_id":"`+id+`"}`+"\n"))
}

func (h *Handler) asyncFailed(id string, index int, res producer.Result) {
	if h.opts.asyncFailed != nil {
		h.opts.asyncFailed(res.Topic)
	}
	h.opts.logger.LogAttrs(context.Background(), slog.LevelError, "message accepted with 202 was not delivered",
		slog.String("request_id", id), slog.Int("index", index), logattr.Topic(res.Topic),
		logattr.Partition(res.Partition), logattr.Err(res.Err))
}
