package producer

import (
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Option configures a Producer.
type Option interface{ apply(*options) }

type options struct {
	logger     *slog.Logger
	clientOpts []kgo.Opt
	client     *kgo.Client
	observer   Observer
	nonBlock   bool

	unavailableAfter time.Duration
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// Logger sets the logger for the producer and its franz-go client,
// overriding the default slog.Default().
func Logger(l *slog.Logger) Option {
	return optionFunc(func(o *options) { o.logger = l })
}

// ClientOpts adds franz-go options after the ones the configuration yields,
// so they win: hooks for metrics, buffer limits. A partitioner given here
// replaces the one that honours Message.Partition. The default is none.
func ClientOpts(opts ...kgo.Opt) Option {
	return optionFunc(func(o *options) { o.clientOpts = append(o.clientOpts, opts...) })
}

// Client makes the Producer send through an existing client instead of
// building its own; of the configuration only the delivery, request and
// shutdown timeouts are used, and Close leaves the client open. Give the
// client the RecordPartitioner(Partitioner()) option, or explicit
// partitions (Message.Partition) are not honoured. The default is a client
// of its own.
func Client(cl *kgo.Client) Option {
	return optionFunc(func(o *options) { o.client = cl })
}

// NonBlocking makes a send fail at once with ErrBufferFull when the
// producer already holds its limit (KAFKA_MAX_BUFFERED_RECORDS,
// KAFKA_MAX_BUFFERED_BYTES), instead of waiting for room. A server uses it
// to answer "overloaded" quickly rather than queue without bound. The
// default waits, as long as the caller's ctx allows.
func NonBlocking() Option { return optionFunc(func(o *options) { o.nonBlock = true }) }

// UnavailableAfter makes sends fail at once with an *UnavailableError
// once every attempt to connect to a broker has failed for d, with no
// connection open, instead of waiting out their timeouts; a synchronous
// send already waiting fails then too. The producer keeps checking in the
// background and accepts sends again as soon as a broker answers. It
// applies only to a producer with a client of its own (see Client). The
// default is 5 seconds; 0 never fails early.
func UnavailableAfter(d time.Duration) Option {
	return optionFunc(func(o *options) { o.unavailableAfter = d })
}

// Observer is told the outcome of every send, for metrics. Sent must be
// safe for concurrent use and fast: it runs on the client's callback path.
type Observer interface {
	// Sent reports a message acknowledged (err nil) or failed, d after
	// the send began.
	Sent(topic string, err error, d time.Duration)
}

// Observe reports every send to o. The default observes nothing and costs
// nothing.
func Observe(o Observer) Option {
	return optionFunc(func(opts *options) { opts.observer = o })
}
