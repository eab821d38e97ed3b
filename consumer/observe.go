package consumer

import "time"

// Outcome is how one handler attempt ended.
type Outcome string

// The outcomes an Observer is told of.
const (
	OutcomeOK             Outcome = "ok"              // handled
	OutcomeRetried        Outcome = "retried"         // failed; the message will be delivered again
	OutcomeDeadLettered   Outcome = "dead_lettered"   // failed for the last time; now in the dead-letter topic
	OutcomeSkipped        Outcome = "skipped"         // failed and skipped (Skip, SkipAndLog, permanent with dead letters off); logged and passed
	OutcomeRetryScheduled Outcome = "retry_scheduled" // failed; sent to a retry topic, to be handled again when due
	OutcomeRecovered      Outcome = "recovered"       // failed; a Recover stage of the failure policy took it
)

// Observer is told what the consumer does, for metrics. Its methods are
// called from every partition's goroutine, so they must be safe for
// concurrent use, and fast.
type Observer interface {
	// HandlerStarted and HandlerFinished bracket each handler call.
	HandlerStarted(topic string)
	HandlerFinished(topic string, d time.Duration)
	// Attempted reports how a handler call ended. A dead-lettered attempt
	// is reported once the dead letter was acknowledged.
	Attempted(topic string, o Outcome)
	// DeadLetterFailed reports a failed dead-letter write; it is retried.
	DeadLetterFailed(topic string)
}

type noObserver struct{}

func (noObserver) HandlerStarted(string)                 {}
func (noObserver) HandlerFinished(string, time.Duration) {}
func (noObserver) Attempted(string, Outcome)             {}
func (noObserver) DeadLetterFailed(string)               {}
