package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/internal/logattr"
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
// dead-letter topic. [LogDrops] turns it into a logged success.
var ErrDropped = errors.New("webhook: the receiver dropped the message")

// outcome is what a 2xx answer asks for: nil for success, or a
// *StatusError (retryable for RETRY, matching ErrDropped for DROP,
// permanent for DEAD_LETTER). Only an application/json body holding a
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
	case StatusRetry, StatusDrop:
		return se
	case StatusDeadLetter:
		return consumer.Permanent(se)
	}
	return nil
}

// LogDrops is a consumer middleware that commits a message its receiver
// dropped ({"status":"DROP"}) without retrying or dead-lettering it, and
// logs that at warning level with the record's topic, partition and
// offset. Without it, a drop is retried like any other error.
func LogDrops(logger *slog.Logger) consumer.Middleware {
	if logger == nil {
		logger = slog.Default()
	}
	return func(next consumer.Handler) consumer.Handler {
		return consumer.HandlerFunc(func(ctx context.Context, msg *consumer.Message) error {
			err := next.Handle(ctx, msg)
			if err != nil && errors.Is(err, ErrDropped) {
				logger.LogAttrs(ctx, slog.LevelWarn, "webhook receiver dropped the message; committed without a dead letter",
					logattr.Topic(msg.Topic), logattr.Partition(msg.Partition), logattr.Offset(msg.Offset), logattr.Attempt(msg.Attempt))
				return nil
			}
			return err
		})
	}
}
