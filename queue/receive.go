package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/internal/logattr"
	"github.com/kafkakit/kafkakit/webhook"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// maxTopics bounds the topics of one receive call.
const maxTopics = 16

// minLease is the least lease a record is handed out with; a record whose
// lock has less left (it waited in the member's buffer) is released
// instead, for another delivery.
const minLease = time.Second

// timeLayout is RFC 3339 in UTC with milliseconds, as the webhook body's.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// memberFetchWait bounds a member's fetch at the broker: a fetch still
// waiting when a receive call's wait ends brings its records to the
// member's buffer, leased, until the member's next receive. Short, so
// that this happens seldom; the cost is a fetch request this often while
// a receive waits.
const memberFetchWait = 250 * time.Millisecond

// receiveRequest is the body of a receive call.
type receiveRequest struct {
	Topics []string `json:"topics"`
	Max    *int     `json:"max"`
	WaitMS *int64   `json:"wait_ms"`
}

// checkReceive returns the request's limits, or what is wrong with it.
func (h *Handler) checkReceive(ctx context.Context, req receiveRequest) (int, time.Duration, *apicontract.Error) {
	bad := func(field, msg string) *apicontract.Error {
		return &apicontract.Error{Status: http.StatusBadRequest, Code: apicontract.CodeInvalidRequest, Field: field, Message: msg}
	}
	if len(req.Topics) == 0 || len(req.Topics) > maxTopics {
		return 0, 0, bad("topics", fmt.Sprintf("must name 1 to %d topics", maxTopics))
	}
	for i, t := range req.Topics {
		field := "topics[" + strconv.Itoa(i) + "]"
		if err := config.ValidateTopic(t); err != nil {
			return 0, 0, bad(field, err.Error())
		}
		if slices.Contains(req.Topics[:i], t) {
			return 0, 0, bad(field, "names "+t+" twice")
		}
		if e := h.mayUse(ctx, field, t); e != nil {
			return 0, 0, e
		}
	}
	maxRecords, wait := DefaultMaxRecords, DefaultWait
	if req.Max != nil {
		if *req.Max < 1 || *req.Max > MaxRecordsLimit {
			return 0, 0, bad("max", fmt.Sprintf("is %d; it must be 1 to %d", *req.Max, MaxRecordsLimit))
		}
		maxRecords = *req.Max
	}
	if req.WaitMS != nil {
		if *req.WaitMS < 0 || *req.WaitMS > MaxWait.Milliseconds() {
			return 0, 0, bad("wait_ms", fmt.Sprintf("is %d; it must be 0 to %d", *req.WaitMS, MaxWait.Milliseconds()))
		}
		wait = time.Duration(*req.WaitMS) * time.Millisecond
	}
	return maxRecords, wait, nil
}

// receive answers POST /kafka/queues/{group}/receive: up to max records of
// the topics, each leased to this replica's member until its
// lease_expires_at, waiting up to wait_ms for the first.
func (h *Handler) receive(w http.ResponseWriter, r *http.Request) {
	g, e := group(r)
	var req receiveRequest
	if e == nil {
		e = h.readBody(w, r, &req)
	}
	var maxRecords int
	var wait time.Duration
	if e == nil {
		maxRecords, wait, e = h.checkReceive(r.Context(), req)
	}
	if e == nil {
		e = h.checkSupport(r.Context())
	}
	if e != nil {
		apicontract.WriteError(w, e)
		return
	}
	m, err := h.pool.acquire(memberKey(g, req.Topics, maxRecords), g, req.Topics, maxRecords)
	if err != nil {
		apicontract.WriteError(w, poolAnswer(err))
		return
	}
	defer h.pool.release(m)
	if !m.acquireUse(r.Context()) {
		return // the client went away
	}
	body, e := h.poll(r.Context(), m, maxRecords, wait)
	m.releaseUse()
	if e != nil {
		apicontract.WriteError(w, e)
		return
	}
	apicontract.WriteBody(w, http.StatusOK, body)
}

// poolAnswer is the answer to a receive that got no member.
func poolAnswer(err error) *apicontract.Error {
	switch {
	case errors.Is(err, errPoolFull):
		return &apicontract.Error{Status: http.StatusServiceUnavailable, Code: apicontract.CodeOverloaded, RetryAfter: 1,
			Message: err.Error() + "; acknowledge them, or retry after Retry-After"}
	case errors.Is(err, errPoolClosed):
		return &apicontract.Error{Status: http.StatusServiceUnavailable, Code: apicontract.CodeShuttingDown, Message: "shutting down"}
	}
	return &apicontract.Error{Status: http.StatusBadGateway, Code: apicontract.CodeBrokerError, Message: "cannot start a share-group member: " + err.Error()}
}

// openMember makes the franz-go client of a new member. It fetches only
// while a receive polls it (ShareMaxRecordsStrict), at most maxRecords a
// fetch, so that records wait leased in its buffer as little as possible.
// Its options are made anew for each client: franz-go rewrites the slice
// inside a compression option in place, so two clients must not share one.
func (h *Handler) openMember(m *member, topics []string, maxRecords int) (*kgo.Client, error) {
	opts, err := h.cfg.Client.Opts()
	if err != nil {
		return nil, err
	}
	opts = append(opts, h.cfg.Group.FetchOpts()...)
	opts = append(opts, h.opts.clientOpts...)
	opts = append(opts,
		kgo.ShareGroup(m.group),
		kgo.ConsumeTopics(topics...),
		kgo.ShareMaxRecords(int32(maxRecords)),
		kgo.ShareMaxRecordsStrict(),
		kgo.ShareAckCallback(m.onAcks),
		kgo.FetchMaxWait(memberFetchWait),
		// The broker releases a member's records when its connection
		// closes: an idle one must outlive any lease.
		kgo.ConnIdleTimeout(max(h.opts.idleTimeout, 5*time.Minute)),
	)
	return kgo.NewClient(opts...)
}

// poll settles the member's leases that ran out, then polls it for up to
// maxRecords records for up to wait, and returns the answer's body.
func (h *Handler) poll(ctx context.Context, m *member, maxRecords int, wait time.Duration) ([]byte, *apicontract.Error) {
	h.releaseExpired(ctx, m)
	pollCtx, cancel := context.WithTimeout(ctx, wait)
	fetches := m.cl.PollRecords(pollCtx, maxRecords)
	cancel()
	now := time.Now()
	body := []byte(`{"records":[`)
	n := 0
	var undelivered []*kgo.Record
	fetches.EachRecord(func(rec *kgo.Record) {
		remaining := rec.AcquisitionDeadline().Sub(now)
		if remaining-leaseMargin(remaining) < minLease {
			undelivered = append(undelivered, rec)
			return
		}
		l := &lease{rec: rec, deliveryCount: rec.DeliveryCount(), deadline: now.Add(remaining - leaseMargin(remaining)), duration: remaining}
		if n > 0 {
			body = append(body, ',')
		}
		body = h.appendRecord(body, m, rec, l.deliveryCount, l.deadline)
		m.mu.Lock()
		m.leases[leaseKey{rec.Topic, rec.Partition, rec.Offset}] = l
		m.mu.Unlock()
		n++
	})
	h.releaseUnseen(ctx, m, undelivered)
	h.metrics.received.Add(float64(n))
	if n == 0 {
		if e := fetchError(fetches); e != nil {
			return nil, e
		}
	} else {
		h.logFetchErrors(ctx, m, fetches)
	}
	return append(body, "]}\n"...), nil
}

// releaseExpired releases the records whose lease ran out unsettled, so
// that the next poll does not accept them (franz-go accepts, at a poll,
// what the previous one returned and was not acknowledged), and forgets
// every lease of the previous poll.
func (h *Handler) releaseExpired(ctx context.Context, m *member) {
	var stale []*kgo.Record
	m.mu.Lock()
	for _, l := range m.leases {
		if !l.done {
			stale = append(stale, l.rec)
		}
	}
	clear(m.leases)
	m.mu.Unlock()
	if len(stale) == 0 {
		return
	}
	for _, rec := range stale {
		rec.Ack(kgo.AckRelease)
	}
	ctx, cancel := context.WithTimeout(ctx, h.opts.requestTimeout)
	defer cancel()
	_ = m.cl.FlushAcks(ctx) // the broker refuses most: their locks ran out
	m.takeResults()
}

// releaseUnseen releases records fetched with too little lease left to
// hand out, each counted, all in one log line.
func (h *Handler) releaseUnseen(ctx context.Context, m *member, recs []*kgo.Record) {
	if len(recs) == 0 {
		return
	}
	for _, rec := range recs {
		rec.Ack(kgo.AckRelease)
	}
	h.metrics.dropped.WithLabelValues("lease_too_short").Add(float64(len(recs)))
	h.logger.LogAttrs(ctx, slog.LevelWarn, "records released unseen: their locks had nearly run out in the member's buffer",
		logattr.Group(m.group), logattr.Topic(recs[0].Topic), logattr.Partition(recs[0].Partition), logattr.Offset(recs[0].Offset),
		slog.Int("records", len(recs)))
}

// appendRecord appends rec as the answer shows it: the webhook body's
// fields, then its delivery count, receipt and lease end.
func (h *Handler) appendRecord(dst []byte, m *member, rec *kgo.Record, deliveryCount int32, deadline time.Time) []byte {
	msg := consumer.Message{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Key: rec.Key, Value: rec.Value,
		Headers: rec.Headers, Timestamp: rec.Timestamp}
	b, err := webhook.NewBody(&msg).MarshalJSON()
	if err != nil {
		b = []byte(`{}`) // NewBody builds only what MarshalJSON writes
	}
	dst = append(dst, b[:len(b)-1]...)
	dst = append(dst, `,"delivery_count":`...)
	dst = strconv.AppendInt(dst, int64(deliveryCount), 10)
	dst = append(dst, `,"receipt":"`...)
	dst = append(dst, h.receiptFor(m, rec.Topic, rec.Partition, rec.Offset, deliveryCount, deadline)...)
	dst = append(dst, `","lease_expires_at":"`...)
	dst = deadline.UTC().AppendFormat(dst, timeLayout)
	return append(dst, `"}`...)
}

// receiptFor signs the receipt of a lease of m.
func (h *Handler) receiptFor(m *member, topic string, partition int32, offset int64, deliveryCount int32, deadline time.Time) string {
	return h.signer.encode(receipt{instance: h.instance, member: m.id, partition: partition, deliveryCount: deliveryCount,
		offset: offset, deadline: deadline.UnixMilli(), group: m.group, topic: topic, holder: h.holder()})
}

// fetchError is the answer to a poll that brought no record but an error
// that is not its wait ending, nil when there is none.
func fetchError(fetches kgo.Fetches) *apicontract.Error {
	var first error
	fetches.EachError(func(_ string, _ int32, err error) {
		if first == nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			first = err
		}
	})
	switch {
	case first == nil:
		return nil
	case errors.Is(first, kgo.ErrClientClosed):
		return &apicontract.Error{Status: http.StatusServiceUnavailable, Code: apicontract.CodeShuttingDown, Message: "shutting down"}
	case errors.Is(first, kerr.TopicAuthorizationFailed), errors.Is(first, kerr.GroupAuthorizationFailed):
		return &apicontract.Error{Status: http.StatusForbidden, Code: apicontract.CodeForbidden, Message: "the broker refused: " + first.Error()}
	case errors.Is(first, kerr.UnknownTopicOrPartition), errors.Is(first, kerr.UnknownTopicID):
		return &apicontract.Error{Status: http.StatusNotFound, Code: apicontract.CodeUnknownTopic, Message: first.Error()}
	}
	return &apicontract.Error{Status: http.StatusBadGateway, Code: apicontract.CodeBrokerError, Message: "share fetch: " + first.Error()}
}

// logFetchErrors logs, once each, the errors of a poll that also brought
// records.
func (h *Handler) logFetchErrors(ctx context.Context, m *member, fetches kgo.Fetches) {
	fetches.EachError(func(topic string, partition int32, err error) {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			h.logger.LogAttrs(ctx, slog.LevelWarn, "share fetch error", logattr.Group(m.group), logattr.Topic(topic),
				logattr.Partition(partition), logattr.Err(err))
		}
	})
}
