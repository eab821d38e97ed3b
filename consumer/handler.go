package consumer

import (
	"context"
	"errors"
)

// Handler handles consumed messages.
//
// Handle is called for one message at a time per partition (or per key,
// with KeyConcurrency), possibly concurrently for different partitions, so
// it must be safe for concurrent use. Returning nil acknowledges the
// message: its offset may then be committed. Returning an error, or
// panicking, schedules a retry; wrap the error with Permanent to skip the
// retries. ctx carries the values of the context given to [Consumer.Run];
// it is cancelled when the partition is lost or when shutdown runs out of
// time (not as soon as Run's context ends); a handler should return
// promptly then.
type Handler interface {
	Handle(ctx context.Context, msg *Message) error
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, msg *Message) error

// Handle calls f(ctx, msg).
func (f HandlerFunc) Handle(ctx context.Context, msg *Message) error { return f(ctx, msg) }

// Middleware wraps a Handler with behaviour of its own: logging, metrics,
// tracing, deduplication.
type Middleware func(Handler) Handler

// Chain wraps h in mws; the first middleware is the outermost.
func Chain(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// PermanentError marks an error that retrying cannot fix, such as a message
// that does not parse. The message goes straight to the dead-letter topic.
// With dead letters off, it is logged at error level with the whole record
// (topic, partition, offset, key, value, headers, the error) and skipped:
// its offset is committed and the partition moves on, as Spring for Apache
// Kafka does without a dead-letter recoverer. Retrying forever would stop
// the partition for a message that can never succeed.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }

func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as not worth retrying: the message is dead-lettered
// at once or, with dead letters off, logged and skipped (see
// [PermanentError]). Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// SkipError marks a message the handler chose to give up on, such as one
// a webhook receiver answered {"status":"DROP"} for: it is logged at
// warning level and committed, neither retried nor dead-lettered.
type SkipError struct{ Err error }

func (e *SkipError) Error() string { return "skipped: " + e.Err.Error() }

func (e *SkipError) Unwrap() error { return e.Err }

// Skip marks err as a decision to drop the message (see [SkipError]).
// Skip(nil) is nil.
func Skip(err error) error {
	if err == nil {
		return nil
	}
	return &SkipError{Err: err}
}

// IsSkip reports whether err, or an error it wraps, was marked with Skip.
func IsSkip(err error) bool {
	var se *SkipError
	return errors.As(err, &se)
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var pe *PermanentError
	return errors.As(err, &pe)
}
