package queue

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// maxAcks bounds the acknowledgements of one call.
const maxAcks = MaxRecordsLimit

// outcomes are the outcomes an acknowledgement may give, by name.
var outcomes = map[string]kgo.AckStatus{
	"accept":  kgo.AckAccept,
	"release": kgo.AckRelease,
	"reject":  kgo.AckReject,
	"renew":   kgo.AckRenew,
}

type ackRequest struct {
	Acks []ackItem `json:"acks"`
}

type ackItem struct {
	Receipt string `json:"receipt"`
	Outcome string `json:"outcome"`
}

// ackResult is one acknowledgement's result: ok, with the new receipt and
// lease end after a renewal, or the error and its status.
type ackResult struct {
	OK             bool               `json:"ok"`
	Receipt        string             `json:"receipt,omitempty"`
	LeaseExpiresAt string             `json:"lease_expires_at,omitempty"`
	Status         int                `json:"status,omitempty"`
	Error          *apicontract.Error `json:"error,omitempty"`
}

type ackResponse struct {
	Results []ackResult `json:"results"`
}

// fail is the result of an acknowledgement that failed with e.
func fail(e *apicontract.Error) ackResult { return ackResult{Status: e.Status, Error: e} }

// parsedAck is one acknowledgement of a call, checked.
type parsedAck struct {
	idx     int
	item    ackItem
	r       receipt
	outcome kgo.AckStatus
}

// ack answers POST /kafka/queues/{group}/ack. Every receipt and outcome is
// checked before anything is acknowledged: one bad item fails the whole
// call with 400 and settles nothing. Then each is settled where its lease
// is held, here or at the replica the receipt names, and has a result of
// its own, in request order.
func (h *Handler) ack(w http.ResponseWriter, r *http.Request) {
	g, e := group(r)
	var req ackRequest
	if e == nil {
		e = h.readBody(w, r, &req)
	}
	var acks []parsedAck
	if e == nil {
		acks, e = h.parseAcks(r.Context(), g, req)
	}
	if e != nil {
		apicontract.WriteError(w, e)
		return
	}
	results := make([]ackResult, len(acks))
	local := map[uint64][]parsedAck{}
	remote := map[string][]parsedAck{}
	forwarded := r.Header.Get(forwardedHeader) != ""
	for _, a := range acks {
		switch {
		case a.r.instance == h.instance:
			local[a.r.member] = append(local[a.r.member], a)
		case forwarded || a.r.holder == "" || a.r.holder == h.holder():
			results[a.idx] = fail(notHeldHere(a.r, forwarded))
		default:
			remote[a.r.holder] = append(remote[a.r.holder], a)
		}
	}
	for id, as := range local {
		h.settle(r.Context(), id, as, results)
	}
	for holder, as := range remote {
		h.forward(r, holder, g, as, results)
	}
	status := http.StatusOK
	if len(results) > 0 && !anyOK(results) {
		status = results[0].Status
	}
	apicontract.WriteJSON(w, status, ackResponse{Results: results})
}

func anyOK(rs []ackResult) bool {
	for _, r := range rs {
		if r.OK {
			return true
		}
	}
	return false
}

// parseAcks checks every acknowledgement of req for group g.
func (h *Handler) parseAcks(ctx context.Context, g string, req ackRequest) ([]parsedAck, *apicontract.Error) {
	if len(req.Acks) == 0 || len(req.Acks) > maxAcks {
		return nil, &apicontract.Error{Status: http.StatusBadRequest, Code: apicontract.CodeInvalidRequest, Field: "acks",
			Message: fmt.Sprintf("must hold 1 to %d acknowledgements", maxAcks)}
	}
	acks := make([]parsedAck, len(req.Acks))
	seen := map[string]bool{}
	for i, item := range req.Acks {
		field := "acks[" + strconv.Itoa(i) + "]"
		status, ok := outcomes[item.Outcome]
		if !ok {
			return nil, &apicontract.Error{Status: http.StatusBadRequest, Code: apicontract.CodeInvalidRequest, Field: field + ".outcome",
				Message: strconv.Quote(item.Outcome) + " is not an outcome: accept, release, reject or renew"}
		}
		r, err := h.signer.decode(item.Receipt)
		if err != nil {
			msg := err.Error()
			if !h.forwarding {
				msg += "; without HTTP_QUEUE_SECRET each replica signs with a key of its own and accepts only its own receipts"
			}
			return nil, &apicontract.Error{Status: http.StatusBadRequest, Code: apicontract.CodeInvalidReceipt, Field: field + ".receipt", Message: msg}
		}
		if r.group != g {
			return nil, &apicontract.Error{Status: http.StatusBadRequest, Code: apicontract.CodeInvalidReceipt, Field: field + ".receipt",
				Message: "the receipt was issued for another group, not " + strconv.Quote(g)}
		}
		if e := h.mayUse(ctx, field+".receipt", r.topic); e != nil {
			return nil, e
		}
		id := fmt.Sprint(r.instance, r.member, r.topic, r.partition, r.offset, r.deliveryCount)
		if seen[id] {
			return nil, &apicontract.Error{Status: http.StatusBadRequest, Code: apicontract.CodeInvalidRequest, Field: field + ".receipt",
				Message: "the same record's receipt is given twice"}
		}
		seen[id] = true
		acks[i] = parsedAck{idx: i, item: item, r: r, outcome: status}
	}
	return acks, nil
}

// notHeldHere is the answer for a receipt of another replica that this
// one cannot reach on its behalf.
func notHeldHere(r receipt, forwarded bool) *apicontract.Error {
	switch {
	case forwarded:
		return &apicontract.Error{Status: http.StatusGone, Code: apicontract.CodeLeaseLost,
			Message: "the replica that issued this receipt is no longer running at " + r.holder + "; the record returns to the queue when its lock runs out"}
	case r.holder == "":
		return &apicontract.Error{Status: http.StatusServiceUnavailable, Code: apicontract.CodeHolderUnavailable,
			Message: "the receipt was issued by another replica, which advertises no URL (HTTP_ADVERTISED_URL); send it there, or the record returns to the queue when its lock runs out"}
	}
	return &apicontract.Error{Status: http.StatusGone, Code: apicontract.CodeLeaseLost,
		Message: "this replica restarted since it issued the receipt; the record returns to the queue when its lock runs out"}
}

// leaseExpired is the answer for an acknowledgement after its lease.
func leaseExpired(deadline time.Time) *apicontract.Error {
	return &apicontract.Error{Status: http.StatusGone, Code: apicontract.CodeLeaseExpired,
		Message: "the lease ended at " + deadline.UTC().Format(timeLayout) + "; the record is back in the queue and was not acknowledged"}
}

// pendingAck is an acknowledgement sent to the broker.
type pendingAck struct {
	parsedAck
	l *lease
}

// settle gives acks, all of leases of this replica's member id, their
// outcomes, and writes their results.
func (h *Handler) settle(ctx context.Context, id uint64, acks []parsedAck, results []ackResult) {
	m := h.pool.lookup(id)
	if m == nil {
		for _, a := range acks {
			results[a.idx] = fail(gone(a.r))
		}
		return
	}
	defer h.pool.release(m)
	pending := h.deadLetter(ctx, m, h.claim(m, acks, results), results)
	if len(pending) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, h.opts.requestTimeout)
	defer cancel()
	if !m.acquireUse(ctx) {
		h.unclaim(m, pending)
		for _, p := range pending {
			results[p.idx] = fail(&apicontract.Error{Status: http.StatusGatewayTimeout, Code: apicontract.CodeTimeout,
				Message: "the member holding the lease stayed busy; nothing was acknowledged"})
		}
		return
	}
	m.takeResults()
	for _, p := range pending {
		p.l.rec.Ack(p.outcome)
	}
	sent := time.Now()
	err := m.cl.FlushAcks(ctx)
	errs := partitionErrors(m.takeResults())
	m.releaseUse()
	for _, p := range pending {
		results[p.idx] = h.settled(m, p, sent, err, errs[leaseKey{topic: p.r.topic, partition: p.r.partition}])
	}
}

// gone is the answer for a receipt whose member this replica closed.
func gone(r receipt) *apicontract.Error {
	if time.Now().After(r.deadlineTime()) {
		return leaseExpired(r.deadlineTime())
	}
	return &apicontract.Error{Status: http.StatusGone, Code: apicontract.CodeLeaseLost,
		Message: "the member that held the lease has closed and released its records; the record is back in the queue"}
}

// claim checks each acknowledgement against its lease and marks those
// with a terminal outcome done, so that no other call settles them too.
// It writes the results of those that fail here.
func (h *Handler) claim(m *member, acks []parsedAck, results []ackResult) []pendingAck {
	now := time.Now()
	var pending []pendingAck
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range acks {
		l := m.leases[leaseKey{a.r.topic, a.r.partition, a.r.offset}]
		switch {
		case l == nil || l.deliveryCount != a.r.deliveryCount:
			results[a.idx] = fail(gone(a.r))
		case l.done:
			results[a.idx] = fail(&apicontract.Error{Status: http.StatusConflict, Code: apicontract.CodeAlreadyAcknowledged,
				Message: "the record was already given an outcome"})
		case !now.Before(l.deadline):
			results[a.idx] = fail(leaseExpired(l.deadline))
		default:
			l.done = a.outcome != kgo.AckRenew
			pending = append(pending, pendingAck{a, l})
		}
	}
	return pending
}

// unclaim undoes claim for acknowledgements never sent.
func (h *Handler) unclaim(m *member, pending []pendingAck) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range pending {
		p.l.done = false
	}
}

// partitionErrors maps the broker's failed answers by topic and partition
// (leaseKey without offset).
func partitionErrors(rs kgo.ShareAckResults) map[leaseKey]error {
	errs := map[leaseKey]error{}
	for _, r := range rs {
		if r.Err != nil {
			errs[leaseKey{topic: r.Topic, partition: r.Partition}] = r.Err
		}
	}
	return errs
}

// settled is the result of an acknowledgement sent at sent: flushErr is
// FlushAcks' error, partErr the broker's answer for its partition.
func (h *Handler) settled(m *member, p pendingAck, sent time.Time, flushErr, partErr error) ackResult {
	res := h.settledResult(m, p, sent, flushErr, partErr)
	result := "ok"
	if !res.OK {
		result = res.Error.Code
	}
	h.metrics.acks.WithLabelValues(p.item.Outcome, result).Inc()
	return res
}

func (h *Handler) settledResult(m *member, p pendingAck, sent time.Time, flushErr, partErr error) ackResult {
	switch {
	case partErr != nil && errors.Is(partErr, kerr.InvalidRecordState):
		return fail(&apicontract.Error{Status: http.StatusGone, Code: apicontract.CodeLeaseExpired,
			Message: "the broker no longer holds the record for this member (its lock ran out); it was not acknowledged"})
	case partErr != nil:
		return fail(&apicontract.Error{Status: http.StatusBadGateway, Code: apicontract.CodeBrokerError, Message: "the broker refused: " + partErr.Error()})
	case flushErr != nil:
		return fail(&apicontract.Error{Status: http.StatusGatewayTimeout, Code: apicontract.CodeTimeout,
			Message: "the broker has not confirmed in time; the outcome may still apply"})
	case p.outcome != kgo.AckRenew:
		return ackResult{OK: true}
	}
	m.mu.Lock()
	p.l.deadline = sent.Add(p.l.duration - leaseMargin(p.l.duration))
	deadline := p.l.deadline
	m.mu.Unlock()
	return ackResult{OK: true, Receipt: h.receiptFor(m, p.r.topic, p.r.partition, p.r.offset, p.r.deliveryCount, deadline),
		LeaseExpiresAt: deadline.UTC().Format(timeLayout)}
}
