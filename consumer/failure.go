package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/kafkakit/kafkakit/internal/logattr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// FailurePolicy is what the consumer does with a message whose handler
// failed: its stages, tried in order. A retry stage calls the handler
// again; a recovering stage (dead letter, skip, a recoverer of your own)
// disposes of the message so that its partition moves on. A [Permanent]
// failure passes over the retry stages to the first recovering one; a
// [Skip] is logged and committed whatever the policy.
//
// A failure that gets past the last stage is never dropped: the message is
// retried in place at the last retry stage's maximum backoff until it
// succeeds, except a [Permanent] failure, which is logged with its whole
// record and skipped (see [PermanentError]).
//
// [Failures] is the way to give a subscription its policy. Without it, the
// subscription has the default policy, whose figures come from the
// configuration (KAFKA_HANDLER_MAX_RETRIES, KAFKA_HANDLER_RETRY_BACKOFF,
// KAFKA_HANDLER_RETRY_MAX_BACKOFF, KAFKA_DLQ_SUFFIX), which [Retries],
// [Backoff] and [DeadLetterTopic] override as shorthands:
//
//	Policy(RetryInPlace(retries, backoff, maxBackoff), DeadLetterTo(topic+".dlq"))
//
// Subscribe refuses Retries or DeadLetterTopic beside Failures, which would
// otherwise be ignored.
type FailurePolicy struct {
	stages []FailureStage
}

// Policy composes stages into a FailurePolicy.
func Policy(stages ...FailureStage) FailurePolicy {
	return FailurePolicy{stages: append([]FailureStage(nil), stages...)}
}

// FailureStage is one step of a [FailurePolicy]: [RetryInPlace],
// [DeadLetterTo], [DeadLetterSuffix], [SkipAndLog] or [Recover].
type FailureStage interface {
	// resolve returns the stage as it applies to topic, or why it cannot.
	resolve(topic string) (FailureStage, error)
}

// Failures sets the subscription's failure policy, replacing the default
// one (see [FailurePolicy]); [Retries] and [DeadLetterTopic] cannot be
// given beside it.
func Failures(p FailurePolicy) SubscribeOption {
	return subOptionFunc(func(s *subscription) { s.policy = &p })
}

// RetryInPlace calls the handler up to n more times, waiting first before
// the first retry and doubling the wait, with ±20% jitter, up to max; a
// [RetryAfterError] makes it wait at least as long as it asks. The
// partition (with [KeyConcurrency], the key) waits meanwhile.
func RetryInPlace(n int, first, max time.Duration) FailureStage {
	return retryInPlace{n: n, first: first, max: max}
}

type retryInPlace struct {
	n          int
	first, max time.Duration
}

func (s retryInPlace) resolve(string) (FailureStage, error) {
	switch {
	case s.n < 0:
		return nil, fmt.Errorf("negative retries %d", s.n)
	case s.first < 0 || s.max < s.first:
		return nil, fmt.Errorf("retry backoff %v up to %v: want 0 <= first <= max", s.first, s.max)
	}
	return s, nil
}

// DeadLetterTo writes the message to topic with Spring's dead-letter
// headers (see [DeadLetter]), retrying the write until the broker
// acknowledges it; the partition waits meanwhile.
func DeadLetterTo(topic string) FailureStage { return deadLetterStage{topic: topic} }

// DeadLetterSuffix is [DeadLetterTo] the subscribed topic plus suffix, so
// that one policy serves many topics.
func DeadLetterSuffix(suffix string) FailureStage { return deadLetterStage{suffix: suffix} }

type deadLetterStage struct{ topic, suffix string }

func (s deadLetterStage) resolve(topic string) (FailureStage, error) {
	if s.topic == "" {
		if s.suffix == "" {
			return nil, errors.New("empty dead-letter topic")
		}
		s.topic = topic + s.suffix
	}
	if s.topic == topic {
		return nil, errors.New("the dead-letter topic cannot be the topic itself")
	}
	return s, nil
}

// SkipAndLog gives up on the message: it is logged at error level with its
// whole record, as Spring's default recoverer does, and committed.
func SkipAndLog() FailureStage { return skipStage{} }

type skipStage struct{}

func (s skipStage) resolve(string) (FailureStage, error) { return s, nil }

// Recoverer disposes of a message whose handler failed with err: it may
// store it elsewhere, alert, or repair and handle it. Returning nil commits
// the message; an error passes it to the policy's next stage. msg is the
// record as consumed, whatever the handler changed, and is the
// recoverer's only until it returns.
type Recoverer func(ctx context.Context, msg *Message, err error) error

// Recover makes r a stage.
func Recover(r Recoverer) FailureStage { return recoverStage{r: r} }

type recoverStage struct{ r Recoverer }

func (s recoverStage) resolve(string) (FailureStage, error) {
	if s.r == nil {
		return nil, errors.New("nil recoverer")
	}
	return s, nil
}

// resolvePolicy returns p's stages for topic.
func resolvePolicy(p FailurePolicy, topic string) ([]FailureStage, error) {
	stages := make([]FailureStage, len(p.stages))
	for i, s := range p.stages {
		if s == nil {
			return nil, fmt.Errorf("failure stage %d is nil", i)
		}
		r, err := s.resolve(topic)
		if err != nil {
			return nil, fmt.Errorf("failure stage %d: %w", i, err)
		}
		stages[i] = r
	}
	return stages, nil
}

// defaultPolicy is the policy the options and configuration describe.
func (s *subscription) defaultPolicy() FailurePolicy {
	stages := []FailureStage{RetryInPlace(s.retries, s.backoff, s.maxBackoff)}
	if s.deadLetterTopic != "" {
		stages = append(stages, DeadLetterTo(s.deadLetterTopic))
	}
	return Policy(stages...)
}

// failureState is where one message is in its subscription's policy.
type failureState struct {
	stage int // the stage the next failure goes to
	used  int // retries that stage has used
	// rescheduled: the message went to a retry topic, so it stays in
	// the retry path.
	rescheduled bool
	// inPath: the message is a retry record of a parked key, at copy in
	// the key-parking state, until it leaves or moves on.
	inPath bool
	copy   parkedCopy
}

// verdict is what the policy made of a failure.
type verdict int

const (
	retryNow  verdict = iota // the wait passed: call the handler again
	finished                 // recovered: the message is committable
	abandoned                // the worker stopped: deliver the message again
)

// fail takes the failure err of attempt of r through the policy: it waits and
// returns retryNow, or disposes of the message and returns finished, or
// returns abandoned when the worker stops first.
func (w *partitionWorker) fail(st *failureState, r *kgo.Record, attempt int, msg *Message, err error) verdict {
	msg.fill(r, attempt) // the record as it came, whatever the handler changed
	attrs := []slog.Attr{logattr.Offset(msg.Offset), logattr.Key(msg.Key), logattr.Attempt(msg.Attempt), logattr.Err(err)}
	stages := w.sub.stages
	for ; st.stage < len(stages); st.stage, st.used = st.stage+1, 0 {
		switch s := stages[st.stage].(type) {
		case retryInPlace:
			if IsPermanent(err) || st.used >= s.n {
				continue
			}
			st.used++
			w.logger.LogAttrs(w.ctx, slog.LevelWarn, "handler failed; retrying", attrs...)
			return w.retryAfter(retryPause(err, s.first, s.max, st.used), msg.Topic)
		case retryTopics:
			if i := s.nextDelay(msg, w.retry); i >= 0 && !IsPermanent(err) {
				return w.toRetryTopic(st, s, i, msg, err)
			}
		default:
			switch v := w.recover(s, msg, err); v {
			case finished, abandoned:
				return v
			}
		}
	}
	if IsPermanent(err) {
		w.skip(msg, err)
		w.c.opts.observer.Attempted(msg.Topic, OutcomeSkipped)
		return finished
	}
	w.logger.LogAttrs(w.ctx, slog.LevelError, "handler failed past the last failure stage; retrying until it succeeds", attrs...)
	first, limit := w.lastBackoff()
	return w.retryAfter(retryPause(err, first, limit, msg.Attempt), msg.Topic)
}

// retryAfter reports a retried attempt and waits d.
func (w *partitionWorker) retryAfter(d time.Duration, topic string) verdict {
	w.c.opts.observer.Attempted(topic, OutcomeRetried)
	if !w.waitRetry(d) {
		return abandoned
	}
	return retryNow
}

// lastBackoff is the backoff of the policy's last retry stage, else the
// subscription's.
func (w *partitionWorker) lastBackoff() (time.Duration, time.Duration) {
	for i := len(w.sub.stages) - 1; i >= 0; i-- {
		if s, ok := w.sub.stages[i].(retryInPlace); ok {
			return s.first, s.max
		}
	}
	return w.sub.backoff, w.sub.maxBackoff
}

// declined means a recovering stage passed the message on.
const declined verdict = -1

// recover runs one recovering stage.
func (w *partitionWorker) recover(s FailureStage, msg *Message, err error) verdict {
	obs := w.c.opts.observer
	switch s := s.(type) {
	case deadLetterStage:
		if !w.deadLetter(msg, err, s.topic) {
			obs.Attempted(msg.Topic, OutcomeRetried)
			return abandoned
		}
		obs.Attempted(msg.Topic, OutcomeDeadLettered)
		return finished
	case skipStage:
		w.skip(msg, err)
		obs.Attempted(msg.Topic, OutcomeSkipped)
		return finished
	case recoverStage:
		rerr := w.callRecoverer(s.r, msg, err)
		if rerr == nil {
			obs.Attempted(msg.Topic, OutcomeRecovered)
			return finished
		}
		w.logger.LogAttrs(w.ctx, slog.LevelWarn, "recoverer declined the message; passing it to the next failure stage",
			logattr.Offset(msg.Offset), logattr.Key(msg.Key), logattr.Err(rerr))
		if w.isStopping() {
			return abandoned
		}
	}
	return declined
}

// callRecoverer calls r, turning a panic into an error.
func (w *partitionWorker) callRecoverer(r Recoverer, msg *Message, err error) (rerr error) {
	defer func() {
		if v := recover(); v != nil {
			rerr = fmt.Errorf("consumer: recoverer panicked: %v", v)
		}
	}()
	return r(w.ctx, msg, err)
}

// stuckFactor times a subscription's longest retry delay is how old a
// retry record that still waits for an older record of its key may get
// before it is reported as stuck.
const stuckFactor = 10

// resolvePolicy resolves the subscription's policy for its topic.
func (s *subscription) resolvePolicy() error {
	p := s.defaultPolicy()
	if s.policy != nil && len(s.shorthands) > 0 {
		return fmt.Errorf("%s shapes the default failure policy and cannot be given beside Failures: put it in the policy", strings.Join(s.shorthands, " and "))
	}
	if s.policy != nil {
		p = *s.policy
		s.deadLetterTopic = ""
	}
	stages, err := resolvePolicy(p, s.topic)
	if err != nil {
		return err
	}
	s.stages = stages
	if i := retryStage(stages); i >= 0 {
		if retryStage(stages[i+1:]) >= 0 {
			return errors.New("more than one retry-topics stage")
		}
		s.stuckAfter = stuckFactor * slices.Max(stages[i].(retryTopics).delays)
	}
	for _, st := range stages {
		if dl, ok := st.(deadLetterStage); ok {
			s.deadLetterTopic = dl.topic
			break
		}
	}
	return nil
}
