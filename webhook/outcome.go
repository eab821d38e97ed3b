package webhook

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/kafkakit/kafkakit/consumer"
)

// The statuses a 2xx answer may carry in {"status": ...}, as Dapr's
// pub/sub subscribers answer.
const (
	StatusSuccess    = "SUCCESS"
	StatusRetry      = "RETRY"
	StatusDrop       = "DROP"
	StatusDeadLetter = "DEAD_LETTER"
)

// ErrDropped is what Handle's error wraps when the receiver answered
// {"status":"DROP"}: it wants the message neither again nor in the
// dead-letter topic. The error is marked with [consumer.Skip], so the
// consumer logs and commits it.
var ErrDropped = errors.New("webhook: the receiver dropped the message")

// outcome is what a 2xx answer asks for: nil for success, or a
// *StatusError (retryable for RETRY, skipped and matching ErrDropped for
// DROP, permanent for DEAD_LETTER). Only an application/json body holding a
// known status counts; any other body, an empty one included, is success.
func outcome(resp *http.Response, body []byte) error {
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return nil
	}
	var answer struct {
		Status string `json:"status"`
	}
	if json.Unmarshal(body, &answer) != nil {
		return nil
	}
	se := &StatusError{Status: resp.StatusCode, Outcome: strings.ToUpper(answer.Status)}
	switch se.Outcome {
	case StatusRetry:
		return se
	case StatusDrop:
		return consumer.Skip(se)
	case StatusDeadLetter:
		return consumer.Permanent(se)
	}
	return nil
}
