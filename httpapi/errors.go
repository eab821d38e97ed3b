package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"

	"github.com/kafkakit/kafkakit/producer"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Error codes in {"error":{"code":...}}. Clients branch on these, so they
// are part of the API.
const (
	CodeInvalidRequest    = "invalid_request"    // 400: bad JSON or a bad field
	CodeUnauthorized      = "unauthorized"       // 401: missing or wrong token
	CodeForbidden         = "forbidden"          // 403: topic not allowed here, or denied by the broker
	CodeNotFound          = "not_found"          // 404: no such route
	CodeUnknownTopic      = "unknown_topic"      // 404: the cluster has no such topic
	CodeMethodNotAllowed  = "method_not_allowed" // 405
	CodeTooLarge          = "payload_too_large"  // 413: body over HTTP_MAX_BODY_BYTES, a record over KAFKA_BATCH_SIZE, or one the broker finds too large
	CodeUnsupportedMedia  = "unsupported_media"  // 415: not application/json
	CodeOverloaded        = "overloaded"         // 503: too much in flight; retry after Retry-After
	CodeShuttingDown      = "shutting_down"      // 503
	CodeCanceled          = "canceled"           // 503: the client went away; the message may still be delivered
	CodeBrokerError       = "broker_error"       // 502: the broker refused
	CodeBrokerUnavailable = "broker_unavailable" // 503 when no broker has been reachable for a while (retry after Retry-After), 502 when one connection failed
	CodeTimeout           = "timeout"            // 504: no acknowledgement in time; the message may still arrive
	CodeNotReady          = "not_ready"          // 503 from /readyz
)

// Error is an API error, the body of every non-2xx answer.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field names the request field at fault, e.g. "topic" or
	// "messages[3].partition".
	Field string `json:"field,omitempty"`
	// RetryAfter, in seconds, is sent as the Retry-After header.
	RetryAfter int `json:"-"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

func invalid(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Field: field, Message: fmt.Sprintf(format, args...)}
}

// unknownField refuses a field the request may not carry, naming at most
// the start of a long name so that a refusal stays short whatever the body.
func unknownField(name string) *Error {
	name = snippet([]byte(name))
	return invalid(name, "unknown field %q", name)
}

// withField returns e with its field prefixed, e.g. "topic" becoming
// "messages[3].topic".
func (e *Error) withField(prefix string) *Error {
	cp := *e
	if cp.Field == "" {
		cp.Field = prefix
	} else {
		cp.Field = prefix + "." + cp.Field
	}
	return &cp
}

// sendError turns a failed send into the answer a client can act on.
func sendError(err error) *Error {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr
	}
	var ke *kerr.Error
	isKerr := errors.As(err, &ke)
	var netErr net.Error
	var tooLarge *producer.RecordTooLargeError
	var unavailable *producer.UnavailableError
	switch {
	case errors.As(err, &tooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Message: tooLarge.Error()}
	case errors.As(err, &unavailable):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeBrokerUnavailable, Message: unavailable.Error(), RetryAfter: 5}
	case errors.Is(err, producer.ErrInvalidPartition):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Field: "partition", Message: cause(err)}
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID):
		return &Error{Status: http.StatusNotFound, Code: CodeUnknownTopic, Field: "topic", Message: "the cluster has no such topic and does not create topics on first use"}
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		// Apache Kafka's answer names no topic: say which one.
		msg := "the broker denied access: " + ke.Message
		if se, ok := errors.AsType[*producer.SendError](err); ok {
			msg = "the broker denied access to topic " + strconv.Quote(se.Topic) + ": " + ke.Message
		}
		return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Field: "topic", Message: msg}
	case errors.Is(err, kerr.ClusterAuthorizationFailed), errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
		return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: "the broker denied access: " + ke.Message}
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Message: "the broker refused the message as too large"}
	case errors.Is(err, kgo.ErrMaxBuffered):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeOverloaded, Message: "too many messages waiting for the broker; retry later", RetryAfter: 1}
	case errors.Is(err, producer.ErrClosed), errors.Is(err, kgo.ErrClientClosed):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeShuttingDown, Message: "the service is shutting down"}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, kerr.RequestTimedOut):
		return &Error{Status: http.StatusGatewayTimeout, Code: CodeTimeout,
			Message: "the broker did not acknowledge in time; the message may still be delivered: " + cause(err)}
	case errors.Is(err, context.Canceled):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeCanceled, Message: "the request was cancelled; the message may still be delivered"}
	case isKerr:
		return &Error{Status: http.StatusBadGateway, Code: CodeBrokerError, Message: "the broker refused the message: " + ke.Error()}
	case errors.As(err, &netErr): // *net.OpError, a failed dial, is a net.Error
		return &Error{Status: http.StatusBadGateway, Code: CodeBrokerUnavailable, Message: "cannot reach the broker: " + cause(err)}
	}
	return &Error{Status: http.StatusBadGateway, Code: CodeBrokerError, Message: cause(err)}
}

// cause is the innermost message worth showing: a SendError's cause
// without the "producer: send to" prefix the response already implies.
func cause(err error) string {
	var se *producer.SendError
	if errors.As(err, &se) {
		return se.Err.Error()
	}
	return err.Error()
}
