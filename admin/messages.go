package admin

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/webhook"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Limits of GET /kafka/topics/{topic}/messages.
const (
	// DefaultLimit is how many messages a page holds without ?limit=.
	DefaultLimit = 20
	// MaxLimit is the largest ?limit= accepted.
	MaxLimit = 100
	// KeyScan is how many of the newest messages of each partition a
	// ?key= search looks through: a search is bounded like a page.
	KeyScan = 1000
)

// page is what a request for messages asks for: for each partition, the
// offsets [from, to) to read.
type page struct {
	topic  string
	ranges map[int32][2]int64
	key    *string
	limit  int
	newest bool // newest first; otherwise in offset order from ?offset=, or in time order from ?from=

	// from is ?from=: the ranges start at each chosen partition's first
	// record at or after it, which the broker finds (see startAt).
	from   time.Time
	chosen []Partition
	window int64
}

// messages answers a page of a topic's messages as the webhook body
// encodes them: key, value and headers each with their encoding.
func (h *Handler) messages(ctx context.Context, w http.ResponseWriter, r *http.Request, name string, parts []Partition) {
	pg, e := parsePage(name, r.URL.Query(), parts)
	if e == nil && !pg.from.IsZero() {
		e = h.startAt(ctx, &pg)
	}
	if e != nil {
		apicontract.WriteError(w, e)
		return
	}
	kept := newKeeper(pg)
	if err := h.read(ctx, pg, kept.add); err != nil {
		apicontract.WriteError(w, brokerError(err))
		return
	}
	apicontract.WriteJSON(w, http.StatusOK, map[string]any{"messages": kept.bodies()})
}

// Listed is one record of a page: the webhook body of what the page kept
// of it.
type Listed struct {
	webhook.Body
	// Truncated says that the record was cut to its share of PageBytes:
	// its key or value is shorter, or its last headers are left out.
	Truncated bool `json:"truncated,omitempty"`
}

// MarshalJSON is the webhook body's, with "truncated": true added when
// the record was cut.
func (l Listed) MarshalJSON() ([]byte, error) {
	b, err := l.Body.MarshalJSON()
	if err != nil || !l.Truncated || len(b) < 2 {
		return b, err
	}
	return append(b[:len(b)-1], `,"truncated":true}`...), nil // b is an object: the flag goes before its end
}

// keeper keeps the first limit records of a page in its order, each cut
// to its share of PageBytes: what a page holds is bounded whatever the
// records' sizes and however many it reads.
type keeper struct {
	limit int
	share int
	// letters keeps each record's LetterFailure, read before it is cut.
	letters bool
	cmp     func(a, b *kgo.Record) int
	recs    []kept // in the page's order, at most limit
}

type kept struct {
	rec       *kgo.Record
	truncated bool
	failure   LetterFailure // when the keeper keeps letters
}

func newKeeper(pg page) *keeper {
	return &keeper{limit: pg.limit, share: PageBytes / max(pg.limit, 1), cmp: pageOrder(pg)}
}

// add keeps rec, a copy cut to its share, if it is among the first limit.
func (k *keeper) add(rec *kgo.Record) {
	i, _ := slices.BinarySearchFunc(k.recs, rec, func(e kept, r *kgo.Record) int { return k.cmp(e.rec, r) })
	if i >= k.limit {
		return
	}
	c, cut := trim(rec, k.share)
	kr := kept{rec: c, truncated: cut}
	if k.letters {
		kr.failure = letterFailure(rec)
	}
	k.recs = slices.Insert(k.recs, i, kr)
	if len(k.recs) > k.limit {
		k.recs = k.recs[:k.limit]
	}
}

// bodies encodes the kept records as the webhook body does.
func (k *keeper) bodies() []Listed {
	out := make([]Listed, 0, len(k.recs))
	for _, kr := range k.recs {
		rec := kr.rec
		out = append(out, Listed{Body: webhook.NewBody(&consumer.Message{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset,
			Key: rec.Key, Value: rec.Value, Headers: rec.Headers, Timestamp: rec.Timestamp}), Truncated: kr.truncated})
	}
	return out
}

// letterBodies are the bodies with each letter's failure.
func (k *keeper) letterBodies() []DeadLetter {
	out := make([]DeadLetter, 0, len(k.recs))
	for i, l := range k.bodies() {
		out = append(out, DeadLetter{Listed: l, Failure: k.recs[i].failure})
	}
	return out
}

// headerCost is what a header costs of a record's share besides its name
// and value, so that countless empty headers cannot fill a page.
const headerCost = 16

// trim copies of rec what fits in share bytes: its key, its value, then
// its headers in order, each cut where the share runs out (a header that
// does not fit, and those after it, left out), and says whether anything
// was cut. The copy holds nothing of the fetch rec came in.
func trim(rec *kgo.Record, share int) (*kgo.Record, bool) {
	out := &kgo.Record{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Timestamp: rec.Timestamp}
	left := share
	var keyCut, valueCut bool
	out.Key, keyCut = cutBytes(rec.Key, &left)
	out.Value, valueCut = cutBytes(rec.Value, &left)
	for i, hd := range rec.Headers {
		cost := len(hd.Key) + len(hd.Value) + headerCost
		if cost > left {
			return out, true
		}
		left -= cost
		if out.Headers == nil {
			out.Headers = make([]kgo.RecordHeader, 0, len(rec.Headers)-i)
		}
		out.Headers = append(out.Headers, kgo.RecordHeader{Key: strings.Clone(hd.Key), Value: bytes.Clone(hd.Value)})
	}
	return out, keyCut || valueCut
}

// cutBytes copies at most *left bytes of b, not ending inside a UTF-8
// sequence, takes them from *left and says whether b was cut. nil stays
// nil.
func cutBytes(b []byte, left *int) ([]byte, bool) {
	if b == nil {
		return nil, false
	}
	n := min(len(b), *left)
	if n < len(b) {
		for i := n; i > 0 && i > n-utf8.UTFMax; i-- {
			if utf8.RuneStart(b[i]) {
				n = i
				break
			}
		}
	}
	*left -= n
	return bytes.Clone(b[:n]), n < len(b)
}

// parsePage checks the query against the topic's partitions.
func parsePage(topic string, q url.Values, parts []Partition) (page, *apicontract.Error) {
	pg := page{topic: topic, ranges: map[int32][2]int64{}, limit: DefaultLimit, newest: true}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return pg, badRequest("limit", fmt.Sprintf("%q is not a whole number from 1 to %d", s, MaxLimit))
		}
		pg.limit = n
	}
	if q.Has("key") {
		k := q.Get("key")
		pg.key = &k
	}
	chosen := parts
	if s := q.Get("partition"); s != "" {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n < 0 || int(n) >= len(parts) {
			return pg, badRequest("partition", fmt.Sprintf("%q is not a partition of %q, which has partitions 0 to %d", s, topic, len(parts)-1))
		}
		chosen = parts[n : n+1]
	}
	window := int64(pg.limit)
	if pg.key != nil {
		window = KeyScan
	}
	if q.Get("from") != "" {
		return fromPage(pg, q, chosen, window)
	}
	if s := q.Get("offset"); s != "" {
		off, err := strconv.ParseInt(s, 10, 64)
		switch {
		case err != nil || off < 0:
			return pg, badRequest("offset", fmt.Sprintf("%q is not an offset (a whole number from 0)", s))
		case len(chosen) != 1:
			return pg, badRequest("offset", "an offset needs a partition")
		}
		pg.ranges[chosen[0].Partition] = chosen[0].from(off, window)
		pg.newest = false
		return pg, nil
	}
	for _, p := range chosen {
		pg.ranges[p.Partition] = p.last(window)
	}
	return pg, nil
}

// last is the range of p's newest n offsets.
func (p Partition) last(n int64) [2]int64 { return [2]int64{max(p.Start, p.End-n), p.End} }

// from is the range of at most n offsets of p from off, or from p's start
// when off is before it.
func (p Partition) from(off, n int64) [2]int64 {
	off = max(off, p.Start)
	return [2]int64{off, min(off+n, p.End)}
}

// fromPage is the page of ?from=: the chosen partitions' records from a
// time on, oldest first.
func fromPage(pg page, q url.Values, chosen []Partition, window int64) (page, *apicontract.Error) {
	s := q.Get("from")
	if q.Get("offset") != "" {
		return pg, badRequest("from", "from and offset are alternatives: give one")
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms >= 0 {
		pg.from = time.UnixMilli(ms)
	} else if t, err := time.Parse(time.RFC3339Nano, s); err == nil && t.UnixMilli() >= 0 {
		pg.from = t
	} else {
		return pg, badRequest("from", fmt.Sprintf("%q is not a time: give an RFC 3339 time (2026-12-01T18:00:00Z) or Unix milliseconds", s))
	}
	pg.newest, pg.chosen, pg.window = false, chosen, window
	return pg, nil
}

// startAt sets the page's ranges from the first offset of each chosen
// partition whose record is at or after pg.from, as the broker's time
// index finds it.
func (h *Handler) startAt(ctx context.Context, pg *page) *apicontract.Error {
	listed, err := h.adm.ListOffsetsAfterMilli(ctx, pg.from.UnixMilli(), pg.topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return brokerError(err)
	}
	for _, p := range pg.chosen {
		lo, ok := listed.Lookup(pg.topic, p.Partition)
		if !ok || lo.Offset < 0 {
			continue // no record that late
		}
		pg.ranges[p.Partition] = p.from(lo.Offset, pg.window)
	}
	return nil
}

// read reads the page's ranges with a consumer client of its own, which
// keeps no state between requests, handing each record (of the page's
// key, if it has one) to visit, which must not keep it: the fetches it
// came in are let go. A fetch holds at most fetchCap bytes (see
// readOpts).
func (h *Handler) read(ctx context.Context, pg page, visit func(*kgo.Record)) error {
	offsets := map[int32]kgo.Offset{}
	for p, rg := range pg.ranges {
		if rg[0] < rg[1] {
			offsets[p] = kgo.NewOffset().At(rg[0])
		}
	}
	if len(offsets) == 0 {
		return nil
	}
	// A reader never has the brokers create the topic it reads.
	opts, err := h.cfg.ReaderOpts()
	if err != nil {
		return err
	}
	opts = append(opts, h.opts.clientOpts...)
	opts = append(opts, readOpts()...)
	opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{pg.topic: offsets}))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	for len(offsets) > 0 {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			// A compacted partition may have no record at its last
			// offset: what was read by the deadline is the page.
			break
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			return fmt.Errorf("admin: read %q partition %d: %w", errs[0].Topic, errs[0].Partition, errs[0].Err)
		}
		fetches.EachRecord(func(rec *kgo.Record) {
			rg := pg.ranges[rec.Partition]
			if rec.Offset >= rg[1] {
				return
			}
			if rec.Offset+1 >= rg[1] {
				delete(offsets, rec.Partition)
			}
			if pg.key == nil || rec.Key != nil && string(rec.Key) == *pg.key {
				visit(rec)
			}
		})
	}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// pageOrder is the order of a page: the oldest first from a time (by
// timestamp, partition and offset), the newest first (by timestamp, then
// offset), or offset order.
func pageOrder(pg page) func(a, b *kgo.Record) int {
	switch {
	case !pg.from.IsZero():
		return func(a, b *kgo.Record) int {
			return cmp.Or(a.Timestamp.Compare(b.Timestamp), cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
		}
	case pg.newest:
		return func(a, b *kgo.Record) int {
			return cmp.Or(b.Timestamp.Compare(a.Timestamp), cmp.Compare(b.Offset, a.Offset), cmp.Compare(a.Partition, b.Partition))
		}
	default:
		return func(a, b *kgo.Record) int { return cmp.Compare(a.Offset, b.Offset) }
	}
}
