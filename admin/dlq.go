package admin

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"unicode/utf8"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/dlq"
	"github.com/kafkakit/kafkakit/internal/timefmt"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DLQScan is how many of the newest dead letters of each partition
// GET /kafka/dlq/{topic} summarizes.
const DLQScan = 1000

// maxPreview bounds the records a replay answer lists.
const maxPreview = 100

// Failure summarizes the dead letters of one original topic that failed
// with one exception type and cause.
type Failure struct {
	OriginalTopic string `json:"original_topic"`
	Exception     string `json:"exception"`
	// Cause is the failure in words (see LetterFailure.Cause); letters of
	// one type with different causes, such as answers 500 and 503 of a
	// webhook, are summarized apart.
	Cause string `json:"cause"`
	Count int    `json:"count"`
	// FirstFailure and LastFailure are the kafkakit-failed-at headers
	// (else the records' timestamps), RFC 3339 in UTC.
	FirstFailure string `json:"first_failure"`
	LastFailure  string `json:"last_failure"`
	// Example is the exception message of the newest of them.
	Example string `json:"example"`
}

// maxFailures bounds the failures a dead-letter summary lists; the
// letters of others are counted in Unlisted.
const maxFailures = 100

// Bounds of a failure's texts, which come from headers of any size.
const (
	maxName    = 256 // original topic and exception type
	maxExample = 1 << 10
)

// dlqTopic answers the summary of a dead-letter topic's newest letters,
// and the newest page of them as the webhook body encodes them. Letters
// are summarized as they are read, and only the page is kept.
func (h *Handler) dlqTopic(ctx context.Context, w http.ResponseWriter, r *http.Request, name string, parts []Partition) {
	limitPage, e := parsePage(name, r.URL.Query(), parts)
	if e != nil {
		apicontract.WriteError(w, e)
		return
	}
	pg := page{topic: name, ranges: map[int32][2]int64{}, limit: limitPage.limit, newest: true}
	for _, p := range parts {
		pg.ranges[p.Partition] = p.last(DLQScan)
	}
	kept := newKeeper(pg)
	kept.letters = true
	sum := summary{byKey: map[[3]string]*Failure{}}
	err := h.read(ctx, pg, func(rec *kgo.Record) {
		sum.add(rec)
		kept.add(rec)
	})
	if err != nil {
		apicontract.WriteError(w, brokerError(err))
		return
	}
	apicontract.WriteJSON(w, http.StatusOK, map[string]any{
		"topic":    name,
		"scanned":  sum.scanned,
		"failures": sum.failures(),
		"unlisted": sum.unlisted,
		"messages": kept.letterBodies(),
	})
}

// DeadLetter is one record of GET /kafka/dlq/{topic}'s page: the record
// as a page lists it, and what its headers say of its failure, read
// before the record was cut to its share of the page.
type DeadLetter struct {
	Listed
	Failure LetterFailure `json:"dead_letter"`
}

// MarshalJSON is the listed record's, with "dead_letter" added.
func (d DeadLetter) MarshalJSON() ([]byte, error) {
	b, err := d.Listed.MarshalJSON()
	if err != nil || len(b) < 2 {
		return b, err
	}
	f, err := json.Marshal(d.Failure)
	if err != nil {
		return nil, err
	}
	b = append(b[:len(b)-1], `,"dead_letter":`...) // b is an object: the field goes before its end
	return append(append(b, f...), '}'), nil
}

// letterFailure reads a dead letter's failure from its headers.
func letterFailure(rec *kgo.Record) LetterFailure {
	l := dlq.LetterOf(rec)
	exception, _ := cutText(l.Exception, maxName)
	return LetterFailure{Exception: exception, Cause: cause(l.Exception, l.ExceptionMessage)}
}

// summary groups dead letters by original topic, exception type and
// cause, at most maxFailures groups.
type summary struct {
	byKey    map[[3]string]*Failure
	scanned  int
	unlisted int
}

func (s *summary) add(rec *kgo.Record) {
	s.scanned++
	l := dlq.LetterOf(rec)
	topic, _ := cutText(l.OriginalTopic, maxName)
	exception, _ := cutText(l.Exception, maxName)
	why := cause(l.Exception, l.ExceptionMessage)
	// Milliseconds, fixed width, as kafkakit-failed-at is written, so
	// that the strings compare as the times do.
	at := l.FailedAt.UTC().Format(timefmt.Millis)
	key := [3]string{topic, exception, why}
	f := s.byKey[key]
	if f == nil {
		if len(s.byKey) == maxFailures {
			s.unlisted++
			return
		}
		f = &Failure{OriginalTopic: topic, Exception: exception, Cause: why, FirstFailure: at, LastFailure: at}
		s.byKey[key] = f
	}
	f.Count++
	f.FirstFailure = min(f.FirstFailure, at)
	if at >= f.LastFailure { // the example is the newest's message
		f.LastFailure = at
		f.Example, _ = cutText(l.ExceptionMessage, maxExample)
	}
}

// failures are the groups, the most frequent first, then the most recent.
func (s *summary) failures() []Failure {
	out := make([]Failure, 0, len(s.byKey))
	for _, f := range s.byKey {
		out = append(out, *f)
	}
	slices.SortFunc(out, func(a, b Failure) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(b.LastFailure, a.LastFailure),
			cmp.Compare(a.OriginalTopic, b.OriginalTopic), cmp.Compare(a.Exception, b.Exception), cmp.Compare(a.Cause, b.Cause))
	})
	return out
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
	// Refused counts the dead letters not sent because their destination
	// was refused; they stay in the dead-letter topic, not marked
	// replayed.
	Refused int `json:"refused"`
	// RefusedRecords lists the first 100 of them, each with why.
	RefusedRecords []ReplayedRecord `json:"refused_records"`
}

// ReplayedRecord is one dead letter of a replay. Its text fields are cut
// to 1 KiB each; Truncated says that one was.
type ReplayedRecord struct {
	Partition   int32   `json:"partition"`
	Offset      int64   `json:"offset"`
	Key         *string `json:"key"`
	To          string  `json:"to"`
	ToPartition int32   `json:"to_partition"`
	Parked      bool    `json:"parked"`
	Error       string  `json:"error"`
	// Refused says why the letter was not sent; nil for one sent.
	Refused   *Refusal `json:"refused,omitempty"`
	Truncated bool     `json:"truncated,omitempty"`
}

// Refusal is why a dead letter was not replayed.
type Refusal struct {
	// Reason is a fixed word: no_original_topic, internal_topic,
	// invalid_topic or not_allowed (dlq's Reason constants).
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// maxText bounds each text field of a replay's answer: keys and
// exception messages come from records, whose headers can be of any
// size.
const maxText = 1 << 10

// replay runs dlq.Replay with its guarantees: original partition, the
// record as it was, a replay count, and parking of what keeps failing.
// Each letter's destination is checked by dlq.Replay in the pass that
// sends it, against the allowlist too, so that no letter, whenever it
// arrived, goes where a send could not.
func (h *Handler) replay(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("topic")
	req, e := readReplayRequest(r)
	noteOf(r).dryRun = req.DryRun
	if e != nil {
		refuse(w, r, e)
		return
	}
	filter, e := req.Select.filter()
	if e != nil {
		refuse(w, r, e)
		return
	}
	if req.To != "" {
		if e := h.checkTo(req.To); e != nil {
			refuse(w, r, e)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.timeout)
	defer cancel()
	if _, e := h.describe(ctx, name); e != nil {
		refuse(w, r, e)
		return
	}
	if _, busy := h.running.LoadOrStore(name, true); busy {
		refuse(w, r, &apicontract.Error{Status: http.StatusConflict, Code: CodeConflict, Field: "topic",
			Message: "a replay of " + name + " is already running"})
		return
	}
	defer h.running.Delete(name)
	ans, err := h.runReplay(ctx, name, req, filter)
	noteOf(r).summary = fmt.Sprintf("total %d %v, parked %d, refused %d, remaining %d", ans.Total, ans.Replayed, ans.Parked, ans.Refused, ans.Remaining)
	if err != nil {
		refuse(w, r, brokerError(err))
		return
	}
	apicontract.WriteJSON(w, http.StatusOK, ans)
}

// checkTo checks a replay's to as a send's topic is checked (400 for a
// name Kafka refuses), then that a replay may write it (403).
func (h *Handler) checkTo(to string) *apicontract.Error {
	if err := config.ValidateTopic(to); err != nil {
		return badRequest("to", "is not a topic name: "+err.Error())
	}
	if e := dlq.CheckDestination(to); e != nil {
		return &apicontract.Error{Status: http.StatusForbidden, Code: apicontract.CodeForbidden, Field: "to", Message: e.Error()}
	}
	if !h.allowed(to) {
		return forbiddenField("to", to)
	}
	return nil
}

// errNotAllowed refuses a letter whose topic the allowlist hides.
var errNotAllowed = errors.New("not in HTTP_ALLOWED_TOPICS")

func (h *Handler) runReplay(ctx context.Context, name string, req ReplayRequest, filter func(dlq.Letter) bool) (ReplayAnswer, error) {
	ans := ReplayAnswer{DryRun: req.DryRun, Records: []ReplayedRecord{}, RefusedRecords: []ReplayedRecord{}}
	allow := func(topic string) error {
		if !h.allowed(topic) {
			return errNotAllowed
		}
		return nil
	}
	sum, err := dlq.Replay(ctx, h.cfg, dlq.ReplayOptions{Topic: name, To: req.To, Limit: req.Limit, DryRun: req.DryRun,
		Filter: filter, Allow: allow, Logger: h.opts.logger, ReaderOpts: readOpts(), OnRecord: func(rec dlq.Record) {
			list := &ans.Records
			if rec.Refused != nil {
				list = &ans.RefusedRecords
				if h.opts.observer != nil {
					h.opts.observer.NotReplayed(rec.Refused.Reason)
				}
			}
			if len(*list) < maxPreview {
				*list = append(*list, replayedRecord(rec))
			}
		}})
	ans.Replayed, ans.Total, ans.Parked, ans.Remaining, ans.Refused = sum.Replayed, sum.Total, sum.Parked, sum.Remaining, sum.Refused
	if ans.Replayed == nil {
		ans.Replayed = map[string]int{}
	}
	return ans, err
}

// replayedRecord is rec as the answer lists it, its texts cut to maxText.
func replayedRecord(rec dlq.Record) ReplayedRecord {
	var cut [4]bool
	rr := ReplayedRecord{Partition: rec.Partition, Offset: rec.Offset, ToPartition: rec.ToPartition, Parked: rec.Parked}
	rr.To, cut[0] = cutText(rec.To, maxText)
	rr.Error, cut[1] = cutText(rec.Error, maxText)
	if rec.Key != nil {
		var k string
		k, cut[2] = cutText(string(rec.Key[:min(len(rec.Key), maxText+utf8.UTFMax)]), maxText)
		rr.Key = &k
	}
	if rec.Refused != nil {
		rr.Refused = &Refusal{Reason: rec.Refused.Reason}
		rr.Refused.Message, cut[3] = cutText(rec.Refused.Error(), maxText)
	}
	rr.Truncated = cut[0] || cut[1] || cut[2] || cut[3]
	return rr
}

// cutText is s cut to at most n bytes, not inside a UTF-8 sequence, and
// whether it was cut.
func cutText(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	i := n
	for i > 0 && i > n-utf8.UTFMax && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i], true
}

func readReplayRequest(r *http.Request) (ReplayRequest, *apicontract.Error) {
	var req ReplayRequest
	if e := decodeBody(r, &req, "a replay request"); e != nil {
		return req, e
	}
	if req.Limit < 0 {
		return req, badRequest("limit", fmt.Sprintf("%d is negative; 0 replays all", req.Limit))
	}
	return req, nil
}

func forbiddenField(field, topic string) *apicontract.Error {
	e := forbidden(topic)
	e.Field = field
	return e
}
