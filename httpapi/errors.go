package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func invalid(field, format string, args ...any) *apicontract.Error {
	return &apicontract.Error{Status: http.StatusBadRequest, Code: apicontract.CodeInvalidRequest, Field: field, Message: fmt.Sprintf(format, args...)}
}

// unknownField refuses a field the request may not carry, naming at most
// the start of a long name so that a refusal stays short whatever the body.
func unknownField(name string) *apicontract.Error {
	name = snippet([]byte(name))
	return invalid(name, "unknown field %q", name)
}

// sendError turns a failed send into the answer a client can act on.
func sendError(err error) *apicontract.Error {
	var apiErr *apicontract.Error
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
		return &apicontract.Error{Status: http.StatusRequestEntityTooLarge, Code: apicontract.CodeTooLarge, Message: tooLarge.Error()}
	case errors.As(err, &unavailable):
		return &apicontract.Error{Status: http.StatusServiceUnavailable, Code: apicontract.CodeBrokerUnavailable, Message: unavailable.Error(), RetryAfter: 5}
	case errors.Is(err, producer.ErrInvalidPartition):
		return &apicontract.Error{Status: http.StatusBadRequest, Code: apicontract.CodeInvalidRequest, Field: "partition", Message: cause(err)}
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID):
		return &apicontract.Error{Status: http.StatusNotFound, Code: apicontract.CodeUnknownTopic, Field: "topic", Message: "the cluster has no such topic and does not create topics on first use"}
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		// Apache Kafka's answer names no topic: say which one.
		msg := "the broker denied access: " + ke.Message
		if se, ok := errors.AsType[*producer.SendError](err); ok {
			msg = "the broker denied access to topic " + strconv.Quote(se.Topic) + ": " + ke.Message
		}
		return &apicontract.Error{Status: http.StatusForbidden, Code: apicontract.CodeForbidden, Field: "topic", Message: msg}
	case errors.Is(err, kerr.ClusterAuthorizationFailed), errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
		return &apicontract.Error{Status: http.StatusForbidden, Code: apicontract.CodeForbidden, Message: "the broker denied access: " + ke.Message}
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge):
		return &apicontract.Error{Status: http.StatusRequestEntityTooLarge, Code: apicontract.CodeTooLarge, Message: "the broker refused the message as too large"}
	case errors.Is(err, kgo.ErrMaxBuffered):
		return &apicontract.Error{Status: http.StatusServiceUnavailable, Code: apicontract.CodeOverloaded, Message: "too many messages waiting for the broker; retry later", RetryAfter: 1}
	case errors.Is(err, producer.ErrClosed), errors.Is(err, kgo.ErrClientClosed):
		return &apicontract.Error{Status: http.StatusServiceUnavailable, Code: apicontract.CodeShuttingDown, Message: "the service is shutting down"}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, kerr.RequestTimedOut):
		return &apicontract.Error{Status: http.StatusGatewayTimeout, Code: apicontract.CodeTimeout,
			Message: "the broker did not acknowledge in time; the message may still be delivered: " + cause(err)}
	case errors.Is(err, context.Canceled):
		return &apicontract.Error{Status: http.StatusServiceUnavailable, Code: apicontract.CodeCanceled, Message: "the request was cancelled; the message may still be delivered"}
	case isKerr:
		return &apicontract.Error{Status: http.StatusBadGateway, Code: apicontract.CodeBrokerError, Message: "the broker refused the message: " + ke.Error()}
	case errors.As(err, &netErr): // *net.OpError, a failed dial, is a net.Error
		return &apicontract.Error{Status: http.StatusBadGateway, Code: apicontract.CodeBrokerUnavailable, Message: "cannot reach the broker: " + cause(err)}
	}
	return &apicontract.Error{Status: http.StatusBadGateway, Code: apicontract.CodeBrokerError, Message: cause(err)}
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
