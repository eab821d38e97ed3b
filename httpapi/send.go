package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/internal/timefmt"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/twmb/franz-go/pkg/kerr"
)

// appendDelivered appends the answer for a delivered message:
// {"topic","partition","offset","timestamp"}. Answers are written by hand
// rather than through encoding/json: they are on every request's path.
func appendDelivered(b []byte, r producer.Result, c *answerCache) []byte {
	b = append(b, `{"topic":`...)
	b = c.appendTopic(b, r.Topic)
	b = append(b, `,"partition":`...)
	b = strconv.AppendInt(b, int64(r.Partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, r.Offset, 10)
	b = append(b, `,"timestamp":"`...)
	b = c.appendTimestamp(b, r.Timestamp)
	return append(b, `"}`...)
}

// answerCache formats a topic and a timestamp once for a batch whose
// messages mostly share their topic and millisecond. A nil cache formats
// every time.
type answerCache struct {
	topic  string
	quoted []byte
	ms     int64 // the millisecond of fmt, all the answer shows
	fmt    []byte
}

func (c *answerCache) appendTopic(b []byte, topic string) []byte {
	if c == nil {
		return strconv.AppendQuote(b, topic)
	}
	if topic != c.topic || c.quoted == nil {
		c.topic, c.quoted = topic, strconv.AppendQuote(c.quoted[:0], topic)
	}
	return append(b, c.quoted...)
}

func (c *answerCache) appendTimestamp(b []byte, t time.Time) []byte {
	if c == nil {
		return t.UTC().AppendFormat(b, timefmt.Millis)
	}
	if ms := t.UnixMilli(); ms != c.ms || c.fmt == nil {
		c.ms, c.fmt = ms, t.UTC().AppendFormat(c.fmt[:0], timefmt.Millis)
	}
	return append(b, c.fmt...)
}

// appendFailed appends a failed message's result, {"error":{...}}, which
// is also the body of every error answer.
func appendFailed(b []byte, e *apicontract.Error) []byte {
	enc, _ := json.Marshal(apicontract.Envelope{Error: e})
	return append(b, enc...)
}

// sendContext is the context of a request's send: not cancelled when the
// client goes away, so that a message handed to the producer is seen
// through to its outcome (which an Idempotency-Key remembers), and
// bounded by timeout, as the client's wait is.
func sendContext(r *http.Request, timeout time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), timeout)
}

// send handles POST /kafka/send: one message, answered once the broker
// acknowledged it.
func (h *Handler) send(w http.ResponseWriter, r *http.Request) {
	var msg producer.Message
	var apiErr *apicontract.Error
	switch mediaType(r) {
	case "application/json":
		msg, apiErr = h.decodeSend(w, r)
	case cloudEventsJSON:
		msg, apiErr = h.decodeCloudEvent(w, r)
	default:
		apiErr = &apicontract.Error{Status: http.StatusUnsupportedMediaType, Code: apicontract.CodeUnsupportedMedia,
			Message: "Content-Type must be application/json, or " + cloudEventsJSON + " for a CloudEvent"}
	}
	if apiErr != nil {
		apicontract.WriteError(w, apiErr)
		return
	}
	note(w, msg.Topic, 1)

	ctx, cancel := sendContext(r, h.opts.requestTimeout)
	defer cancel()
	if apiErr := h.check(ctx, []producer.Message{msg}); apiErr != nil {
		apicontract.WriteError(w, apiErr)
		return
	}
	if prefersAsync(r) {
		h.respondAsync(w, r, []producer.Message{msg})
		return
	}
	res, err := h.sender.Send(ctx, msg)
	if err != nil {
		apicontract.WriteError(w, sendError(err))
		return
	}
	apicontract.WriteBody(w, http.StatusOK, append(appendDelivered(make([]byte, 0, 128), res, nil), '\n'))
}

func (h *Handler) decodeSend(w http.ResponseWriter, r *http.Request) (producer.Message, *apicontract.Error) {
	req, apiErr := h.parseBody(w, r)
	if apiErr != nil {
		return producer.Message{}, apiErr
	}
	defer req.release()
	return req.message(req.root)
}

// parseBody reads and parses a body whose media type was checked.
func (h *Handler) parseBody(w http.ResponseWriter, r *http.Request) (*request, *apicontract.Error) {
	body, apiErr := h.readBody(w, r)
	if apiErr != nil {
		return nil, apiErr
	}
	return parse(body)
}

// decodeCloudEvent reads a structured-mode CloudEvent for the topic the
// query names.
func (h *Handler) decodeCloudEvent(w http.ResponseWriter, r *http.Request) (producer.Message, *apicontract.Error) {
	topic := r.URL.Query().Get("topic")
	if topic == "" {
		return producer.Message{}, invalid("topic", "is required in the query for a CloudEvent: POST /kafka/send?topic=<topic>")
	}
	if err := config.ValidateTopic(topic); err != nil {
		return producer.Message{}, invalid("topic", "%s", err)
	}
	req, apiErr := h.parseBody(w, r)
	if apiErr != nil {
		return producer.Message{}, apiErr
	}
	defer req.release()
	msg, apiErr := req.cloudEvent()
	msg.Topic = topic
	return msg, apiErr
}

// sendBatch handles POST /kafka/send-batch: every message is validated
// before any is sent, then all are sent at once, keeping their order per
// partition, and each is reported.
func (h *Handler) sendBatch(w http.ResponseWriter, r *http.Request) {
	body, apiErr := h.readJSON(w, r)
	if apiErr != nil {
		apicontract.WriteError(w, apiErr)
		return
	}
	msgs, atomic, apiErr := decodeBatch(body, h.opts.maxBatch)
	if apiErr == nil && atomic && h.opts.transactions == nil {
		apiErr = invalid("atomic", "atomic batches are not enabled on this server")
	}
	if apiErr != nil {
		apicontract.WriteError(w, apiErr)
		return
	}
	note(w, msgs[0].Topic, len(msgs))

	ctx, cancel := sendContext(r, h.opts.requestTimeout)
	defer cancel()
	if apiErr := h.check(ctx, msgs); apiErr != nil {
		apicontract.WriteError(w, apiErr)
		return
	}
	if atomic {
		// An atomic batch is answered after its commit, whatever the
		// client prefers: a 202 could not say whether it committed.
		h.sendAtomic(ctx, w, msgs)
		return
	}
	if prefersAsync(r) {
		h.respondAsync(w, r, msgs)
		return
	}
	results, err := h.sender.SendBatch(ctx, msgs)
	out, status := appendResults(make([]byte, 0, 16+len(results)*96), results)
	if err != nil && status == http.StatusOK {
		status = sendError(err).Status
	}
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	apicontract.WriteBody(w, status, out)
}

// appendResults appends {"results":[...]}, each message delivered or
// failed, and returns the status of the first failure, which speaks for
// the batch, or 200.
func appendResults(b []byte, results []producer.Result) ([]byte, int) {
	status := http.StatusOK
	b = append(b, `{"results":[`...)
	var cache answerCache
	for i, res := range results {
		if i > 0 {
			b = append(b, ',')
		}
		if res.Err == nil {
			b = appendDelivered(b, res, &cache)
			continue
		}
		e := sendError(res.Err)
		if status == http.StatusOK {
			status = e.Status
		}
		b = appendFailed(b, e)
	}
	return append(b, "]}\n"...), status
}

func decodeBatch(body []byte, max int) ([]producer.Message, bool, *apicontract.Error) {
	req, apiErr := parse(body)
	if apiErr != nil {
		return nil, false, apiErr
	}
	defer req.release()
	return req.messages(max)
}

// check refuses, before anything is sent, messages to topics this API
// does not allow (HTTP_ALLOWED_TOPICS) or the caller's token may not send
// to, and explicit partitions the topic does not have.
func (h *Handler) check(ctx context.Context, msgs []producer.Message) *apicontract.Error {
	field := func(i int, name string) string {
		if len(msgs) == 1 {
			return name
		}
		return "messages[" + strconv.Itoa(i) + "]." + name
	}
	for i, m := range msgs {
		if !h.opts.allowedTopics.Allows(m.Topic) {
			return &apicontract.Error{Status: http.StatusForbidden, Code: apicontract.CodeForbidden, Field: field(i, "topic"),
				Message: "sending to topic " + strconv.Quote(m.Topic) + " is not allowed here"}
		}
		if e := apicontract.CheckTopic(ctx, apicontract.ScopeSend, m.Topic); e != nil {
			e.Field = field(i, "topic")
			return e
		}
	}
	for i, m := range msgs {
		if m.Partition == nil {
			continue
		}
		n, err := h.sender.Partitions(ctx, m.Topic, *m.Partition)
		if err != nil {
			e := sendError(err)
			switch {
			case errors.Is(err, kerr.UnknownTopicOrPartition):
				e.Field = field(i, "topic")
			case e.Code == apicontract.CodeTimeout:
				e.Message = "the brokers did not say in time how many partitions the topic has; nothing was sent"
			}
			return e
		}
		if *m.Partition >= n {
			return invalid(field(i, "partition"), "topic %q has %d partitions; partition %d does not exist", m.Topic, n, *m.Partition)
		}
	}
	return nil
}
