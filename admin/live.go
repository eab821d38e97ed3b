package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/metrics"
	dto "github.com/prometheus/client_model/go"
)

// LiveKeep is how many seconds of /kafka/live events the handler keeps
// for clients that reconnect with Last-Event-ID.
const LiveKeep = 300

// liveEvery is the interval between /kafka/live events.
const liveEvery = time.Second

// liveStale is how old the last sample may be for the next one to give
// rates: after a longer spell without a watching client, the next sample
// is only a new baseline, not an average over the spell.
const liveStale = 10 * time.Second

// LiveEvent is the data of one /kafka/live event: what happened since the
// previous event, read from the service's metrics registry.
type LiveEvent struct {
	// ID is the event's id, the Unix time of its sample in milliseconds;
	// ids increase.
	ID int64 `json:"id"`
	// Time is the sample's time, RFC 3339 in UTC.
	Time string `json:"time"`
	// Produced is messages acknowledged per second, by topic.
	Produced map[string]float64 `json:"produced"`
	// Consumed is messages handled to the end (ok, dead-lettered or
	// skipped; not retried attempts) per second, by topic.
	Consumed map[string]float64 `json:"consumed"`
	// Lag is the messages not yet handled and committed, by group, over
	// the partitions kafkakit's consumers are assigned.
	Lag map[string]int64 `json:"lag"`
	// HTTP is the requests answered since the previous event, by status.
	HTTP map[string]int64 `json:"http"`
}

// liveSample is the counters of one reading of the registry.
type liveSample struct {
	at                 time.Time
	produced, consumed map[string]float64
	http               map[string]float64
	lag                map[string]int64
}

// live is the handler's recent events, shared by every /kafka/live
// client. Samples are taken by the clients' own loops, at most one per
// interval whoever asks, so nothing runs while nobody watches.
type live struct {
	mu     sync.Mutex
	last   *liveSample
	events []LiveEvent // oldest first, at most LiveKeep
}

// tick takes a sample unless one was taken less than 90% of an interval
// ago, and makes it an event when the previous one is recent enough.
func (l *live) tick(h *Handler, now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last != nil && now.Sub(l.last.at) < liveEvery*9/10 {
		return nil
	}
	s, err := h.sample(now)
	if err != nil {
		return err
	}
	prev := l.last
	l.last = s
	if prev == nil || now.Sub(prev.at) > liveStale {
		return nil
	}
	ev := s.since(prev)
	ev.ID = now.UnixMilli()
	if n := len(l.events); n > 0 && ev.ID <= l.events[n-1].ID {
		ev.ID = l.events[n-1].ID + 1
	}
	l.events = append(l.events, ev)
	if len(l.events) > LiveKeep {
		l.events = append(l.events[:0], l.events[len(l.events)-LiveKeep:]...)
	}
	return nil
}

// after returns the kept events with ids above id.
func (l *live) after(id int64) []LiveEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := len(l.events)
	for i > 0 && l.events[i-1].ID > id {
		i--
	}
	return append([]LiveEvent(nil), l.events[i:]...)
}

// newest is the id of the newest kept event, 0 when none.
func (l *live) newest() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.events) == 0 {
		return 0
	}
	return l.events[len(l.events)-1].ID
}

// since turns two samples into the rates between them.
func (s *liveSample) since(prev *liveSample) LiveEvent {
	secs := s.at.Sub(prev.at).Seconds()
	rate := func(now, before map[string]float64) map[string]float64 {
		out := make(map[string]float64, len(now))
		for k, v := range now {
			out[k] = max(0, v-before[k]) / secs // a restarted counter counts from 0
		}
		return out
	}
	ev := LiveEvent{Time: s.at.UTC().Format(time.RFC3339Nano), Produced: rate(s.produced, prev.produced),
		Consumed: rate(s.consumed, prev.consumed), Lag: s.lag, HTTP: make(map[string]int64, len(s.http))}
	for k, v := range s.http {
		ev.HTTP[k] = int64(max(0, v-prev.http[k]))
	}
	return ev
}

// sample reads the counters the events are made of from the registry,
// leaving out topics the allowlist hides.
func (h *Handler) sample(now time.Time) (*liveSample, error) {
	families, err := h.opts.gatherer.Gather()
	if err != nil {
		return nil, fmt.Errorf("admin: read metrics: %w", err)
	}
	s := &liveSample{at: now, produced: map[string]float64{}, consumed: map[string]float64{}, http: map[string]float64{}, lag: map[string]int64{}}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			l := labels(m)
			if t, ok := l["topic"]; ok && !h.allowed(t) {
				continue
			}
			switch mf.GetName() {
			case metrics.NameMessagesProduced:
				if l["outcome"] == "ok" {
					s.produced[l["topic"]] += m.GetCounter().GetValue()
				}
			case metrics.NameMessagesHandled:
				if l["outcome"] != "retried" {
					s.consumed[l["topic"]] += m.GetCounter().GetValue()
				}
			case metrics.NameHTTPRequests:
				s.http[l["status"]] += m.GetCounter().GetValue()
			case metrics.NameConsumerLag:
				s.lag[l["group"]] += int64(m.GetGauge().GetValue())
			}
		}
	}
	return s, nil
}

func labels(m *dto.Metric) map[string]string {
	out := make(map[string]string, len(m.GetLabel()))
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

// liveStream serves GET /kafka/live: a LiveEvent every second as
// server-sent events. A client that sends Last-Event-ID first gets the
// kept events after that id (Last-Event-ID: 0 gets all of them), then the
// new ones; without it, only new ones.
func (h *Handler) liveStream(w http.ResponseWriter, r *http.Request) {
	if h.opts.gatherer == nil {
		apicontract.WriteError(w, &apicontract.Error{Status: http.StatusNotFound, Code: apicontract.CodeNotFound,
			Message: "no metrics registry to read live figures from"})
		return
	}
	lastID := h.live.newest()
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		id, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || id < 0 {
			apicontract.WriteError(w, &apicontract.Error{Status: http.StatusBadRequest, Code: apicontract.CodeInvalidRequest, Field: "Last-Event-ID",
				Message: strconv.Quote(v) + " is not an event id: ids are whole numbers"})
			return
		}
		lastID = id
	}
	if err := h.live.tick(h, time.Now()); err != nil {
		apicontract.WriteError(w, &apicontract.Error{Status: http.StatusInternalServerError, Code: "internal", Message: err.Error()})
		return
	}
	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// retry: how long a browser's EventSource waits before reconnecting.
	if !writeEvents(w, rc, "retry: 1000\n\n", nil) {
		return
	}
	t := time.NewTicker(liveEvery)
	defer t.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case now := <-t.C:
			if err := h.live.tick(h, now); err != nil {
				h.opts.logger.Warn("live figures", "error", err)
			}
			evs := h.live.after(lastID)
			if !writeEvents(w, rc, "", evs) {
				return
			}
			if len(evs) > 0 {
				lastID = evs[len(evs)-1].ID
			}
		}
	}
}

// writeEvents writes prefix and evs and flushes them, each write under a
// fresh deadline so that the server's write timeout does not end the
// stream; false means the client is gone.
func writeEvents(w http.ResponseWriter, rc *http.ResponseController, prefix string, evs []LiveEvent) bool {
	var b strings.Builder
	b.WriteString(prefix)
	for _, ev := range evs {
		data, _ := json.Marshal(ev) // maps of strings and numbers: no error
		fmt.Fprintf(&b, "id: %d\nevent: live\ndata: %s\n\n", ev.ID, data)
	}
	if b.Len() == 0 {
		return true
	}
	_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second)) // not every writer has deadlines
	if _, err := w.Write([]byte(b.String())); err != nil {
		return false
	}
	return rc.Flush() == nil
}
