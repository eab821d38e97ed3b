package admin

import (
	"log/slog"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Option configures New.
type Option interface{ apply(*options) }

type options struct {
	guard      *apicontract.Guard
	allowed    *apicontract.TopicFilter
	timeout    time.Duration
	clientOpts []kgo.Opt
	logger     *slog.Logger
	gatherer   prometheus.Gatherer
	observer   Observer
	consumers  func() []consumer.Status
	// shareInFlight is set by ShareInFlight.
	shareInFlight func(group string) map[string]map[int32]int

	maxInFlight  int
	maxReadBytes int64
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// AuthToken requires `Authorization: Bearer <token>` on every route
// (HTTP_AUTH_TOKEN), a token with every scope: apicontract.SingleToken.
// The default, empty, requires nothing.
func AuthToken(token config.Secret) Option {
	return optionFunc(func(o *options) { o.guard = apicontract.SingleToken(token) })
}

// Guard checks every route's bearer token and scope with g
// (HTTP_AUTH_TOKEN and HTTP_TOKENS_FILE), instead of AuthToken's one
// token: reads need read, a replay replay, changes to topics and groups
// admin (apicontract.RouteScope). Give httpapi.Guard the same g.
func Guard(g *apicontract.Guard) Option { return optionFunc(func(o *options) { o.guard = g }) }

// AllowedTopics hides every other topic: exact names or "prefix.*"
// patterns, as for sends (HTTP_ALLOWED_TOPICS). The default, none, shows
// every topic.
func AllowedTopics(patterns ...string) Option {
	return optionFunc(func(o *options) { o.allowed = apicontract.NewTopicFilter(patterns) })
}

// Timeout bounds each request's questions to the cluster, the reading of
// a page of messages included; the default is 10s.
func Timeout(d time.Duration) Option { return optionFunc(func(o *options) { o.timeout = d }) }

// ClientOpts are added to the options of the consumer client opened for
// each page of messages (for metrics or tracing). The default is none.
func ClientOpts(opts ...kgo.Opt) Option {
	return optionFunc(func(o *options) { o.clientOpts = append(o.clientOpts, opts...) })
}

// MaxInFlight bounds the requests handled at once, overriding the default
// DefaultMaxInFlight; more are answered 503 overloaded with Retry-After.
// /kafka/live streams, which last, have as many slots again of their own.
func MaxInFlight(n int) Option { return optionFunc(func(o *options) { o.maxInFlight = n }) }

// MaxReadBytes bounds the bytes that the requests reading records (pages
// of messages, dead-letter summaries, replays) hold together, overriding
// the default DefaultMaxReadBytes. Each takes a fixed reserve, what it
// can hold at most whatever the records' sizes (about 9 MiB); one that
// does not fit is answered 503 overloaded with Retry-After. A value below
// one reserve admits one such request at a time.
func MaxReadBytes(n int64) Option { return optionFunc(func(o *options) { o.maxReadBytes = n }) }

// Logger logs what replays do and the audit trail of the calls that
// change the cluster (one INFO line each); the default is slog.Default().
func Logger(l *slog.Logger) Option { return optionFunc(func(o *options) { o.logger = l }) }

// Metrics is the registry /kafka/live reads its figures from: kafkakit's
// metrics (package metrics) registered there. The default, none, answers
// /kafka/live with 404.
func Metrics(g prometheus.Gatherer) Option {
	return optionFunc(func(o *options) { o.gatherer = g })
}

// Observer counts what the admin API refuses and the actions it takes;
// *metrics.Metrics implements it.
type Observer interface {
	// NotReplayed counts a dead letter a replay left because its
	// destination was refused, by dlq's Reason.
	NotReplayed(reason string)
	// AdminAction counts a call that changes the cluster, or in a dry
	// run would, by its action (ActionCreateTopic, ...) and outcome
	// (OutcomeOK, OutcomeDryRun, OutcomeRefused, OutcomeFailed).
	AdminAction(action, outcome string)
}

// Observe counts refusals with o. The default, nil, counts nothing.
func Observe(o Observer) Option { return optionFunc(func(opts *options) { opts.observer = o }) }
