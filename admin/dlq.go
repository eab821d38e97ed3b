package admin

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"

	"github.com/kafkakit/kafkakit/dlq"
	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DLQScan is how many of the newest dead letters of each partition
// GET /kafka/dlq/{topic} summarizes.
const DLQScan = 1000

// maxPreview bounds the records a replay answer lists.
const maxPreview = 100

// Failure summarizes the dead letters of one original topic that failed
// with one exception type.
type Failure struct {
	OriginalTopic string `json:"original_topic"`
	Exception     string `json:"exception"`
	Count         int    `json:"count"`
	// FirstFailure and LastFailure are the kafkakit-failed-at headers
	// (else the records' timestamps), RFC 3339 in UTC.
	FirstFailure string `json:"first_failure"`
	LastFailure  string `json:"last_failure"`
	// Example is the exception message of the newest of them.
	Example string `json:"example"`
}

// dlqTopic answers the summary of a dead-letter topic's newest letters,
// and the newest page of them as the webhook body encodes them.
func (h *Handler) dlqTopic(ctx context.Context, w http.ResponseWriter, r *http.Request, name string, parts []Partition) {
	limitPage, e := parsePage(name, r.URL.Query(), parts)
	if e != nil {
		writeError(w, e)
		return
	}
	pg := page{topic: name, ranges: map[int32][2]int64{}, limit: len(parts) * DLQScan, newest: true}
	for _, p := range parts {
		pg.ranges[p.Partition] = p.last(DLQScan)
	}
	records, err := h.read(ctx, pg)
	if err != nil {
		writeError(w, brokerError(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"topic":    name,
		"scanned":  len(records),
		"failures": summarizeFailures(records),
		"messages": bodies(records[:min(len(records), limitPage.limit)]),
	})
}

// summarizeFailures groups records, newest first, by original topic and
// exception type.
func summarizeFailures(records []*kgo.Record) []Failure {
	byKey := map[[2]string]*Failure{}
	var out []*Failure
	for _, rec := range records {
		l := dlq.LetterOf(rec)
		// Milliseconds, fixed width, as kafkakit-failed-at is written, so
		// that the strings compare as the times do.
		at := l.FailedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00")
		f := byKey[[2]string{l.OriginalTopic, l.Exception}]
		if f == nil {
			f = &Failure{OriginalTopic: l.OriginalTopic, Exception: l.Exception, FirstFailure: at, LastFailure: at,
				Example: l.ExceptionMessage}
			byKey[[2]string{l.OriginalTopic, l.Exception}] = f
			out = append(out, f)
		}
		f.Count++
		f.FirstFailure, f.LastFailure = min(f.FirstFailure, at), max(f.LastFailure, at)
	}
	res := make([]Failure, 0, len(out))
	for _, f := range out {
		res = append(res, *f)
	}
	slices.SortStableFunc(res, func(a, b Failure) int { return cmp.Compare(b.Count, a.Count) })
	return res
}

// ReplayRequest is the body of POST /kafka/dlq/{topic}/replay.
type ReplayRequest struct {
	// DryRun reports what would be sent, sending and committing nothing.
	DryRun bool `json:"dry_run"`
	// To sends every dead letter there instead of its original topic.
	To string `json:"to"`
	// Limit stops after this many dead letters; 0 replays all.
	Limit int `json:"limit"`
	// Select chooses the dead letters to replay; the default is all.
	Select *Selector `json:"select"`
}

// ReplayAnswer is what a replay did, or in a dry run would do.
type ReplayAnswer struct {
	DryRun    bool           `json:"dry_run"`
	Replayed  map[string]int `json:"replayed"`
	Total     int            `json:"total"`
	Parked    int            `json:"parked"`
	Remaining int64          `json:"remaining"`
	// Records lists the first 100 dead letters replayed.
	Records []ReplayedRecord `json:"records"`
}

// ReplayedRecord is one dead letter of a replay.
type ReplayedRecord struct {
	Partition   int32   `json:"partition"`
	Offset      int64   `json:"offset"`
	Key         *string `json:"key"`
	To          string  `json:"to"`
	ToPartition int32   `json:"to_partition"`
	Parked      bool    `json:"parked"`
	Error       string  `json:"error"`
}

// replay runs dlq.Replay with its guarantees: original partition, the
// record as it was, a replay count, and parking of what keeps failing.
func (h *Handler) replay(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("topic")
	req, e := readReplayRequest(r)
	if e != nil {
		writeError(w, e)
		return
	}
	filter, e := req.Select.filter()
	if e != nil {
		writeError(w, e)
		return
	}
	if req.To != "" && !h.allowed(req.To) {
		writeError(w, forbiddenField("to", req.To))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.timeout)
	defer cancel()
	if _, e := h.describe(ctx, name); e != nil {
		writeError(w, e)
		return
	}
	if _, busy := h.running.LoadOrStore(name, true); busy {
		writeError(w, &httpapi.Error{Status: http.StatusConflict, Code: "conflict", Field: "topic",
			Message: "a replay of " + name + " is already running"})
		return
	}
	defer h.running.Delete(name)
	if !req.DryRun && h.opts.allowed.Restricted() {
		// Where each letter goes is in its headers: a dry run first
		// learns it, so that nothing is sent to a topic not allowed.
		preview, err := h.runReplay(ctx, name, ReplayRequest{DryRun: true, To: req.To, Limit: req.Limit}, filter)
		if err != nil {
			writeError(w, replayError(err))
			return
		}
		for to := range preview.Replayed {
			if !h.allowed(to) && to != name+dlq.ParkedSuffix { // a replay may always park
				writeError(w, forbiddenField("to", to))
				return
			}
		}
	}
	ans, err := h.runReplay(ctx, name, req, filter)
	if err != nil {
		writeError(w, replayError(err))
		return
	}
	writeJSON(w, http.StatusOK, ans)
}

func (h *Handler) runReplay(ctx context.Context, name string, req ReplayRequest, filter func(dlq.Letter) bool) (ReplayAnswer, error) {
	ans := ReplayAnswer{DryRun: req.DryRun, Records: []ReplayedRecord{}}
	sum, err := dlq.Replay(ctx, h.cfg, dlq.ReplayOptions{Topic: name, To: req.To, Limit: req.Limit, DryRun: req.DryRun,
		Filter: filter, Logger: h.opts.logger, OnRecord: func(rec dlq.Record) {
			if len(ans.Records) < maxPreview {
				rr := ReplayedRecord{Partition: rec.Partition, Offset: rec.Offset, To: rec.To, ToPartition: rec.ToPartition, Parked: rec.Parked, Error: rec.Error}
				if rec.Key != nil {
					k := string(rec.Key)
					rr.Key = &k
				}
				ans.Records = append(ans.Records, rr)
			}
		}})
	ans.Replayed, ans.Total, ans.Parked, ans.Remaining = sum.Replayed, sum.Total, sum.Parked, sum.Remaining
	if ans.Replayed == nil {
		ans.Replayed = map[string]int{}
	}
	return ans, err
}

func readReplayRequest(r *http.Request) (ReplayRequest, *httpapi.Error) {
	var req ReplayRequest
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return req, &httpapi.Error{Status: http.StatusUnsupportedMediaType, Code: httpapi.CodeUnsupportedMedia, Message: "Content-Type must be application/json"}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10+1))
	if err != nil || len(body) > 64<<10 {
		return req, badRequest("", "the body must be a JSON object of at most 64 KiB")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		field := ""
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			field = te.Field
		}
		return req, badRequest(field, "the body is not a replay request: "+err.Error())
	}
	if req.Limit < 0 {
		return req, badRequest("limit", fmt.Sprintf("%d is negative; 0 replays all", req.Limit))
	}
	return req, nil
}

func forbiddenField(field, topic string) *httpapi.Error {
	e := forbidden(topic)
	e.Field = field
	return e
}

func replayError(err error) *httpapi.Error {
	if errors.Is(err, dlq.ErrNoOriginalTopic) {
		return badRequest("to", err.Error())
	}
	return brokerError(err)
}
