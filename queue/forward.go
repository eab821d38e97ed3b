package queue

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/internal/logattr"
)

// maxForwardAnswer bounds the answer read from another replica.
const maxForwardAnswer = 4 << 20

// forward sends acks, held by the replica at holder, to it, and writes
// their results: its answers, or holder_unavailable for each when it does
// not answer in time or answers nonsense. The request carries the
// caller's Authorization header, since replicas share their token.
func (h *Handler) forward(r *http.Request, holder, group string, acks []parsedAck, results []ackResult) {
	answer, err := h.forwardCall(r, holder, group, acks)
	if err == nil && len(answer.Results) != len(acks) {
		err = errWrongCount
	}
	if err != nil {
		h.metrics.forwarded.WithLabelValues("unavailable").Add(float64(len(acks)))
		h.logger.LogAttrs(r.Context(), slog.LevelWarn, "cannot forward acknowledgements to the replica holding their leases",
			slog.String("holder", holder), logattr.Group(group), slog.Int("acks", len(acks)), logattr.Err(err))
		for _, a := range acks {
			results[a.idx] = fail(&apicontract.Error{Status: http.StatusServiceUnavailable, Code: apicontract.CodeHolderUnavailable,
				Message: "the replica holding the lease, " + holder + ", did not answer: " + err.Error() +
					"; the record returns to the queue when its lock runs out, unless a retry reaches that replica first"})
		}
		return
	}
	h.metrics.forwarded.WithLabelValues("ok").Add(float64(len(acks)))
	for i, a := range acks {
		res := answer.Results[i]
		if res.Error != nil {
			res.Error.Status = res.Status
		}
		if !res.OK && (res.Error == nil || res.Status < 400 || res.Status > 599) {
			res = fail(&apicontract.Error{Status: http.StatusBadGateway, Code: apicontract.CodeHolderUnavailable,
				Message: "the replica holding the lease, " + holder + ", answered a result without an error"})
		}
		results[a.idx] = res
	}
}

type forwardError string

func (e forwardError) Error() string { return string(e) }

const errWrongCount = forwardError("its answer does not hold one result per acknowledgement")

// forwardCall posts the acknowledgements to holder's ack route and decodes
// the answer, whatever its status: a call in which every item failed is
// answered with the first item's status.
func (h *Handler) forwardCall(r *http.Request, holder, group string, acks []parsedAck) (ackResponse, error) {
	var body ackRequest
	for _, a := range acks {
		body.Acks = append(body.Acks, a.item)
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, holder+Prefix+url.PathEscape(group)+"/ack", bytes.NewReader(b))
	if err != nil {
		return ackResponse{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(forwardedHeader, "1")
	if auth := r.Header.Get("Authorization"); auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := h.forwarder.Do(req)
	if err != nil {
		return ackResponse{}, err
	}
	defer resp.Body.Close()
	var answer ackResponse
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxForwardAnswer))
	if err := dec.Decode(&answer); err != nil {
		return ackResponse{}, forwardError("its answer (HTTP " + resp.Status + ") is not a list of results: " + err.Error())
	}
	return answer, nil
}
