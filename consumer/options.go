package consumer

import (
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Option configures a Consumer.
type Option interface{ apply(*options) }

type options struct {
	logger         *slog.Logger
	clientOpts     []kgo.Opt
	connOpts       []kgo.Opt
	group          string
	commitInterval time.Duration
	maxQueuedBytes int
	observer       Observer
	middlewares    []Middleware
	lagRefresh     time.Duration
	// shareConcurrency and shareFromBeginning are a ShareConsumer's.
	shareConcurrency   int
	shareFromBeginning bool
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

func defaultOptions() options {
	return options{
		logger:         slog.Default(),
		commitInterval: time.Second,
		maxQueuedBytes: 16 << 20,
		observer:       noObserver{},
		lagRefresh:     10 * time.Second,

		shareConcurrency: 1,
	}
}

// Logger sets the logger for the consumer and its franz-go client,
// overriding the default slog.Default().
func Logger(l *slog.Logger) Option {
	return optionFunc(func(o *options) { o.logger = l })
}

// ClientOpts adds franz-go options after the ones the configuration yields,
// so they win, to the group's client. The default is none. The clients the
// consumer opens beside it (the topic check's, the retry path's reader)
// get none of them: give what every client needs to reach the cluster in
// ConnectionOpts.
func ClientOpts(opts ...kgo.Opt) Option {
	return optionFunc(func(o *options) { o.clientOpts = append(o.clientOpts, opts...) })
}

// ConnectionOpts adds franz-go options for reaching the cluster (a dialer,
// TLS, a SASL mechanism the configuration cannot express) to every client
// the consumer opens: the group's, the topic check's and the retry path's
// reader. The default is none. Hooks belong in ClientOpts: a hook such as
// the metrics package's binds to the first client it sees, which would be
// the topic check's, closed at once.
func ConnectionOpts(opts ...kgo.Opt) Option {
	return optionFunc(func(o *options) { o.connOpts = append(o.connOpts, opts...) })
}

// Group sets the consumer group, overriding the configuration's GroupID
// (KAFKA_GROUP_ID).
func Group(id string) Option {
	return optionFunc(func(o *options) { o.group = id })
}

// CommitInterval sets how often handled offsets are committed while
// running, overriding the default 1s; it must be at least 100ms. Offsets
// are also committed on shutdown and before partitions are given up, so
// the interval only bounds how much is handled again after a crash.
func CommitInterval(d time.Duration) Option {
	return optionFunc(func(o *options) { o.commitInterval = d })
}

// MaxQueuedBytes bounds the records fetched but not yet handled, per
// partition, counting keys, values, headers and about 128 bytes of
// bookkeeping each, overriding the default 16 MiB. A partition over the
// bound stops fetching until its handler has worked through half of it, so
// a slow partition costs memory in proportion to this, not to its backlog.
// Pausing discards what the client had fetched ahead for the partition, so
// a bound much smaller than a few fetches (KAFKA_MAX_BYTES_PER_PARTITION)
// makes a fast partition fetch the same data twice.
func MaxQueuedBytes(n int) Option {
	return optionFunc(func(o *options) { o.maxQueuedBytes = n })
}

// Observe reports what the consumer does to o, for metrics. The default
// observes nothing.
func Observe(o Observer) Option {
	return optionFunc(func(opts *options) { opts.observer = o })
}

// Use wraps every subscription's handler in mws, the first outermost:
// tracing, logging, metrics of your own. The default is none.
func Use(mws ...Middleware) Option {
	return optionFunc(func(o *options) { o.middlewares = append(o.middlewares, mws...) })
}

// LagRefresh sets how often the high watermarks of assigned partitions are
// asked of the brokers, for lag in Status, overriding the default 10s.
// Fetches update them too, for free; the refresh covers partitions that
// are paused or idle. One ListOffsets request per refresh.
func LagRefresh(d time.Duration) Option {
	return optionFunc(func(o *options) { o.lagRefresh = d })
}

// ShareConcurrency sets how many records a [ShareConsumer] handles at
// once, across all its partitions, overriding the default 1. It is also
// the most records one share fetch asks for.
func ShareConcurrency(n int) Option {
	return optionFunc(func(o *options) { o.shareConcurrency = n })
}

// ShareFromBeginning makes a [ShareConsumer]'s Run set its share group's
// share.auto.offset.reset to earliest, so that a group new to a partition
// starts at its oldest record. The default leaves the group's setting as
// it is (Apache Kafka's default is latest: new records only). The setting
// is the group's, so it holds for every topic and member.
func ShareFromBeginning() Option {
	return optionFunc(func(o *options) { o.shareFromBeginning = true })
}

// SubscribeOption configures one subscription.
type SubscribeOption interface{ applySub(*subscription) }

type subOptionFunc func(*subscription)

func (f subOptionFunc) applySub(s *subscription) { f(s) }

// Retries is a shorthand for the default failure policy (see
// [FailurePolicy]): it sets how many times a failed message is retried
// after its first attempt, overriding the configuration's
// HandlerMaxRetries (KAFKA_HANDLER_MAX_RETRIES, default 3). Subscribe
// refuses it beside [Failures], whose policy says that itself.
func Retries(n int) SubscribeOption {
	return subOptionFunc(func(s *subscription) {
		s.retries = n
		s.shorthands = append(s.shorthands, "Retries")
	})
}

// Backoff sets the pause before the first retry and the cap on later ones,
// which double with ±20% jitter, overriding the configuration's
// HandlerRetryBackoff and HandlerRetryMaxBackoff (default 200ms and 30s).
// It is the default policy's retry backoff, and, whatever the policy, the
// backoff between tries of a failed write to a dead-letter or retry topic.
func Backoff(first, max time.Duration) SubscribeOption {
	return subOptionFunc(func(s *subscription) { s.backoff, s.maxBackoff = first, max })
}

// DeadLetterTopic is a shorthand for the default failure policy (see
// [FailurePolicy]): it sets where messages go after their last attempt,
// overriding the topic plus the configuration's DLQSuffix
// (KAFKA_DLQ_SUFFIX, default ".dlq"). An empty name disables dead letters:
// a failing message is then retried at the maximum backoff until it
// succeeds, since skipping it would lose it, except a [Permanent] failure,
// which is logged with its record and skipped. Subscribe refuses it beside
// [Failures], whose policy says that itself.
func DeadLetterTopic(name string) SubscribeOption {
	return subOptionFunc(func(s *subscription) {
		s.deadLetterTopic = name
		s.shorthands = append(s.shorthands, "DeadLetterTopic")
	})
}

// KeyConcurrency handles up to workers messages of one partition at a
// time, keeping the order of messages with the same key: a key's next
// message starts only once its previous one is finished. Messages without
// a key may be handled in any order. Offsets are committed only up to the first message not yet
// handled, so a crash or rebalance still loses nothing; retries and dead
// letters work as usual, a retried message holding back only its own key's
// worker. The default, 1, handles a partition's messages one at a time in
// offset order.
func KeyConcurrency(workers int) SubscribeOption {
	return subOptionFunc(func(s *subscription) { s.concurrency = workers })
}
