package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/kafkakit/kafkakit/producer"
	"github.com/twmb/franz-go/pkg/kerr"
)

// sendResponse is the answer to a delivered message.
type sendResponse struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Timestamp string `json:"timestamp"`
}

// batchResult is one message's outcome in a send-batch answer.
type batchResult struct {
	*sendResponse
	Error *Error `json:"error,omitempty"`
}

func delivered(r producer.Result) *sendResponse {
	return &sendResponse{
		Topic:     r.Topic,
		Partition: r.Partition,
		Offset:    r.Offset,
		Timestamp: r.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
	}
}

// send handles POST /kafka/send: one message, answered once the broker
// acknowledged it.
func (h *Handler) send(w http.ResponseWriter, r *http.Request) {
	body, apiErr := h.readJSON(w, r)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	var req sendRequest
	if apiErr := decodeObject(body, &req); apiErr != nil {
		writeError(w, apiErr)
		return
	}
	msg, apiErr := req.message()
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	info := infoOf(r)
	info.topic, info.messages = msg.Topic, 1

	ctx, cancel := context.WithTimeout(r.Context(), h.opts.requestTimeout)
	defer cancel()
	if apiErr := h.check(ctx, []producer.Message{msg}); apiErr != nil {
		writeError(w, apiErr)
		return
	}
	res, err := h.sender.Send(ctx, msg)
	if err != nil {
		writeError(w, sendError(err))
		return
	}
	writeJSON(w, http.StatusOK, delivered(res))
}

// sendBatch handles POST /kafka/send-batch: every message is validated
// before any is sent, then all are sent at once, keeping their order per
// partition, and each is reported.
func (h *Handler) sendBatch(w http.ResponseWriter, r *http.Request) {
	body, apiErr := h.readJSON(w, r)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	msgs, apiErr := h.decodeBatch(body)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	info := infoOf(r)
	info.topic, info.messages = msgs[0].Topic, len(msgs)

	ctx, cancel := context.WithTimeout(r.Context(), h.opts.requestTimeout)
	defer cancel()
	if apiErr := h.check(ctx, msgs); apiErr != nil {
		writeError(w, apiErr)
		return
	}
	results, err := h.sender.SendBatch(ctx, msgs)
	out := struct {
		Results []batchResult `json:"results"`
	}{make([]batchResult, len(results))}
	status := http.StatusOK
	for i, res := range results {
		if res.Err != nil {
			e := sendError(res.Err)
			if status == http.StatusOK {
				status = e.Status // the first failure speaks for the batch
			}
			out.Results[i].Error = e
			continue
		}
		out.Results[i].sendResponse = delivered(res)
	}
	if err != nil && status == http.StatusOK {
		status = sendError(err).Status
	}
	writeJSON(w, status, out)
}

func (h *Handler) decodeBatch(body []byte) ([]producer.Message, *Error) {
	var req batchRequest
	if apiErr := decodeObject(body, &req); apiErr != nil {
		return nil, apiErr
	}
	if isNull(req.Messages) {
		return nil, invalid("messages", "is required")
	}
	var raws []json.RawMessage
	if json.Unmarshal(req.Messages, &raws) != nil {
		return nil, invalid("messages", "must be an array of messages")
	}
	switch {
	case len(raws) == 0:
		return nil, invalid("messages", "must hold at least one message")
	case len(raws) > h.opts.maxBatch:
		return nil, invalid("messages", "holds %d messages; the limit is %d", len(raws), h.opts.maxBatch)
	}
	msgs := make([]producer.Message, len(raws))
	for i, raw := range raws {
		field := "messages[" + strconv.Itoa(i) + "]"
		var req sendRequest
		if apiErr := decodeObject(raw, &req); apiErr != nil {
			return nil, apiErr.withField(field)
		}
		msg, apiErr := req.message()
		if apiErr != nil {
			return nil, apiErr.withField(field)
		}
		msgs[i] = msg
	}
	return msgs, nil
}

// check refuses, before anything is sent, messages to topics this API
// does not allow and explicit partitions the topic does not have.
func (h *Handler) check(ctx context.Context, msgs []producer.Message) *Error {
	field := func(i int, name string) string {
		if len(msgs) == 1 {
			return name
		}
		return "messages[" + strconv.Itoa(i) + "]." + name
	}
	for i, m := range msgs {
		if !h.opts.allowedTopics.allows(m.Topic) {
			return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Field: field(i, "topic"),
				Message: "sending to topic " + strconv.Quote(m.Topic) + " is not allowed here"}
		}
	}
	for i, m := range msgs {
		if m.Partition == nil {
			continue
		}
		n, err := h.sender.Partitions(ctx, m.Topic, *m.Partition)
		if err != nil {
			e := sendError(err)
			if errors.Is(err, kerr.UnknownTopicOrPartition) {
				e.Field = field(i, "topic")
			}
			return e
		}
		if *m.Partition >= n {
			return invalid(field(i, "partition"), "topic %q has %d partitions; partition %d does not exist", m.Topic, n, *m.Partition)
		}
	}
	return nil
}
