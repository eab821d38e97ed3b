package queue

import (
	"log/slog"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/config"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Defaults of the options and of the receive call.
const (
	// DefaultMaxMembers is MaxMembers' default.
	DefaultMaxMembers = 64
	// DefaultIdleTimeout is IdleTimeout's default.
	DefaultIdleTimeout = time.Minute
	// DefaultMaxRecords is how many records a receive call asks for when
	// its body does not say; MaxRecordsLimit is the most it may ask for.
	DefaultMaxRecords = 100
	MaxRecordsLimit   = 1000
	// DefaultWait is how long a receive call waits for a first record
	// when its body does not say; MaxWait is the most it may ask for.
	DefaultWait = time.Second
	MaxWait     = 20 * time.Second
	// DefaultForwardTimeout bounds an acknowledgement forwarded to the
	// replica that holds its lease.
	DefaultForwardTimeout = 5 * time.Second
	// DefaultMaxBodyBytes bounds a request body.
	DefaultMaxBodyBytes = 1 << 20
	// MinSecretLen is the shortest receipt secret accepted.
	MinSecretLen = 16
)

// Option configures a Handler.
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	logger         *slog.Logger
	guard          *apicontract.Guard
	allowed        []string
	secret         config.Secret
	advertised     string
	maxMembers     int
	idleTimeout    time.Duration
	forwardTimeout time.Duration
	requestTimeout time.Duration
	maxBodyBytes   int64
	clientOpts     []kgo.Opt
	reg            prometheus.Registerer
	observe        func(route, method string, status int, d time.Duration)
	deadLetters    DeadLetterSender
	dlqSuffix      string
}

func defaultOptions() options {
	return options{logger: slog.Default(), maxMembers: DefaultMaxMembers, idleTimeout: DefaultIdleTimeout,
		forwardTimeout: DefaultForwardTimeout, requestTimeout: 30 * time.Second, maxBodyBytes: DefaultMaxBodyBytes,
		guard: apicontract.NewGuard(nil)}
}

// Logger logs through l, by default slog.Default().
func Logger(l *slog.Logger) Option { return optionFunc(func(o *options) { o.logger = l }) }

// AuthToken requires `Authorization: Bearer <token>` on every route; by
// default none is required. It is Guard(apicontract.SingleToken(token)).
func AuthToken(token config.Secret) Option {
	return optionFunc(func(o *options) { o.guard = apicontract.SingleToken(token) })
}

// Guard checks each route's bearer token and the consume scope with g,
// for the topics received from and acknowledged to as well (the same
// guard as httpapi.Guard and admin.Guard).
func Guard(g *apicontract.Guard) Option { return optionFunc(func(o *options) { o.guard = g }) }

// AllowedTopics limits the topics that may be received from and
// acknowledged to exact names or "prefix.*" patterns, as the send routes'
// HTTP_ALLOWED_TOPICS; by default every topic but kafkakit's own.
func AllowedTopics(patterns ...string) Option {
	return optionFunc(func(o *options) { o.allowed = append(o.allowed, patterns...) })
}

// Secret signs receipts (HTTP_QUEUE_SECRET), at least MinSecretLen bytes.
// Every replica of the service given the same secret accepts the others'
// receipts. By default each Handler signs with a random key of its own,
// and accepts only the receipts it issued.
func Secret(s config.Secret) Option { return optionFunc(func(o *options) { o.secret = s }) }

// AdvertisedURL is the base URL at which the other replicas reach this one
// (HTTP_ADVERTISED_URL), written into every receipt so that an
// acknowledgement sent to another replica is forwarded here. By default
// none: receipts cannot be forwarded to this replica.
func AdvertisedURL(u string) Option { return optionFunc(func(o *options) { o.advertised = u }) }

// MaxMembers bounds the share-group members this replica keeps open, for
// all groups together; a receive that needs one more is answered 503. The
// default is DefaultMaxMembers.
func MaxMembers(n int) Option { return optionFunc(func(o *options) { o.maxMembers = n }) }

// IdleTimeout closes a member that has held no lease and served no
// receive for this long. The default is DefaultIdleTimeout.
func IdleTimeout(d time.Duration) Option { return optionFunc(func(o *options) { o.idleTimeout = d }) }

// ForwardTimeout bounds an acknowledgement forwarded to the replica
// holding its lease. The default is DefaultForwardTimeout.
func ForwardTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.forwardTimeout = d })
}

// RequestTimeout bounds the broker's confirmation of acknowledgements and
// the check of what the cluster supports (KAFKA_REQUEST_TIMEOUT). The
// default is 30s.
func RequestTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.requestTimeout = d })
}

// MaxBodyBytes bounds a request body; a larger one is answered 413. The
// default is DefaultMaxBodyBytes.
func MaxBodyBytes(n int64) Option { return optionFunc(func(o *options) { o.maxBodyBytes = n }) }

// ClientOpts are added to the options of every member's franz-go client,
// after the cluster's; by default none.
func ClientOpts(opts ...kgo.Opt) Option {
	return optionFunc(func(o *options) { o.clientOpts = append(o.clientOpts, opts...) })
}

// Metrics registers the queue's metrics with reg; by default none are
// kept.
func Metrics(reg prometheus.Registerer) Option { return optionFunc(func(o *options) { o.reg = reg }) }

// Observe calls fn after each request with its route (the pattern's path,
// "" for none), method, status and duration, as metrics.Metrics.ObserveHTTP
// takes them; by default nothing is called.
func Observe(fn func(route, method string, status int, d time.Duration)) Option {
	return optionFunc(func(o *options) { o.observe = fn })
}

// DeadLetters writes each record a client rejects to its topic's
// dead-letter topic, the topic's name with suffix (KAFKA_DLQ_SUFFIX),
// through sender, before the broker is told; by default, with no sender
// or an empty suffix, a rejected record is only archived by the broker.
func DeadLetters(sender DeadLetterSender, suffix string) Option {
	return optionFunc(func(o *options) {
		if suffix == "" {
			sender = nil
		}
		o.deadLetters, o.dlqSuffix = sender, suffix
	})
}
