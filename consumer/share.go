package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/internal/backoff"
	"github.com/kafkakit/kafkakit/internal/kgolog"
	"github.com/kafkakit/kafkakit/internal/logattr"
	"github.com/kafkakit/kafkakit/internal/owntopics"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/twmb/franz-go/pkg/kgo"
)

// maxShareFetchWait caps how long a share fetch waits for records.
const maxShareFetchWait = 500 * time.Millisecond

// DefaultDeliveryCountLimit is Apache Kafka's default for a share group's
// share.delivery.count.limit, assumed when the cluster does not say.
const DefaultDeliveryCountLimit = 5

// ShareConsumer consumes topics in a share group (KIP-932): the brokers
// lease records to members one by one, so any number of members share a
// partition, and records are handled in no particular order. It hands
// each record to a [Handler], as [Consumer] does, and answers the broker
// for it:
//
//   - nil, or a [Skip]: accept (done);
//   - an error or panic: release, and the broker delivers the record
//     again, to this member or another, counting the delivery; on the
//     subscription's last delivery, dead-letter then accept;
//   - a [Permanent] error: dead-letter, then accept.
//
// Deliveries are capped at the smaller of the retries plus one
// ([Retries], KAFKA_HANDLER_MAX_RETRIES) and the group's
// share.delivery.count.limit, so that a record that fails every time is
// dead-lettered by its last delivery rather than archived by the broker
// unseen. With dead letters off, such a record is logged at error level
// with its whole record and rejected. A release is redelivered at once:
// the broker has no backoff.
//
// Up to [ShareConcurrency] records are handled at once, however many
// partitions there are. Records come in fetches of at most that many;
// the next fetch waits until every record of the previous one is
// answered, since franz-go accepts a fetch's unanswered records when the
// next is polled: a slow record holds back the consumer's next fetch
// (each member of the group fetches on its own, so other instances go
// on). One member per consumer: more members on a partition make the
// brokers' fetches for it contend, which measured slower. While a handler runs past half its record's lock, the
// lock is renewed (KIP-1222), so a slow handler keeps its record.
//
// Its methods are safe for concurrent use.
type ShareConsumer struct {
	cfg          config.Kafka
	group        string
	opts         options
	logger       *slog.Logger
	clientLogger *slog.Logger
	kopts        []kgo.Opt

	mu          sync.Mutex
	subs        map[string]*shareSub
	client      *kgo.Client // nil until Run
	deadLetters *producer.Producer
	stopRun     context.CancelFunc
	runDone     chan struct{}
	closed      bool
	limit       int                    // the group's delivery count limit, read by Run
	inFlight    map[topicPartition]int // records being handled, for Status

	joined  atomic.Bool
	lastErr atomic.Pointer[error]
}

// shareSub is one topic's handler and failure settings.
type shareSub struct {
	topic           string
	handler         Handler
	retries         int
	deadLetterTopic string
}

// NewShare returns a ShareConsumer for the configuration's group
// (KAFKA_GROUP_ID), used as a share group's name. It validates cfg but
// does not connect; Run does. Of the options, Logger, ClientOpts, Group,
// Observe, Use, ShareConcurrency and ShareFromBeginning apply.
func NewShare(cfg config.Kafka, opts ...Option) (*ShareConsumer, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt.apply(&o)
	}
	if o.shareConcurrency < 1 {
		return nil, fmt.Errorf("consumer: share concurrency %d is below 1", o.shareConcurrency)
	}
	if o.observer == nil {
		o.observer = noObserver{}
	}
	if o.group != "" {
		cfg.GroupID = o.group
	}
	kopts, err := cfg.Opts()
	if err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	clientLogger := o.logger.With(logattr.Component("share-consumer"))
	return &ShareConsumer{
		cfg: cfg, group: cfg.GroupID, opts: o, kopts: kopts,
		logger:       clientLogger.With(logattr.Group(cfg.GroupID)),
		clientLogger: clientLogger,
		subs:         make(map[string]*shareSub),
		inFlight:     make(map[topicPartition]int),
	}, nil
}

// Subscribe registers h for topic. Of the subscribe options, [Retries]
// and [DeadLetterTopic] apply; the others are refused, since the broker,
// not the consumer, redelivers. Where a new group starts is the group's
// share.auto.offset.reset, which [ShareFromBeginning] sets. Subscribe
// must be called before Run; a topic can be subscribed once.
func (c *ShareConsumer) Subscribe(topic string, h Handler, opts ...SubscribeOption) error {
	if topic == "" {
		return errors.New("consumer: subscribe: empty topic")
	}
	if h == nil {
		return fmt.Errorf("consumer: subscribe %q: nil handler", topic)
	}
	s := &subscription{topic: topic, retries: c.cfg.HandlerMaxRetries, concurrency: 1}
	if c.cfg.DLQSuffix != "" {
		s.deadLetterTopic = topic + c.cfg.DLQSuffix
	}
	for _, opt := range opts {
		opt.applySub(s)
	}
	switch {
	case s.policy != nil || s.concurrency != 1:
		return fmt.Errorf("consumer: subscribe %q: Failures and KeyConcurrency do not apply to a share group", topic)
	case s.retries < 0:
		return fmt.Errorf("consumer: subscribe %q: negative retries %d", topic, s.retries)
	case s.deadLetterTopic == topic:
		return fmt.Errorf("consumer: subscribe %q: the dead-letter topic cannot be the topic itself", topic)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return ErrClosed
	case c.client != nil:
		return ErrRunning
	case c.subs[topic] != nil:
		return fmt.Errorf("consumer: topic %q is already subscribed", topic)
	}
	c.subs[topic] = &shareSub{topic: topic, handler: Chain(h, c.opts.middlewares...), retries: s.retries, deadLetterTopic: s.deadLetterTopic}
	return nil
}

// Run consumes until ctx ends, then lets in-flight handlers finish within
// the shutdown timeout (KAFKA_SHUTDOWN_TIMEOUT), sends their answers to
// the brokers and returns. The group is left by Close. Before joining,
// Run checks that the cluster runs share groups (see [CheckShareGroups]):
// one that does not is Run's error, at once, naming what it lacks. A
// ShareConsumer runs once.
func (c *ShareConsumer) Run(ctx context.Context) error {
	handlerCtx := context.WithoutCancel(ctx)
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	if err := c.prepareForRun(ctx); err != nil || ctx.Err() != nil {
		return err
	}
	cl, err := c.start(stop)
	if err != nil {
		return err
	}
	defer close(c.runDone)
	c.joined.Store(true)
	c.logger.LogAttrs(ctx, slog.LevelInfo, "share consumer started",
		slog.Any("topics", c.Topics()), slog.Int("concurrency", c.opts.shareConcurrency), slog.Int("delivery_count_limit", c.limit))
	for {
		fetches := cl.PollRecords(ctx, c.opts.shareConcurrency)
		if fetches.IsClientClosed() {
			return ErrClosed
		}
		if ctx.Err() != nil {
			break
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			c.setErr(err)
			c.logger.LogAttrs(ctx, slog.LevelWarn, "fetch failed",
				logattr.Topic(topic), logattr.Partition(partition), logattr.Err(err))
		})
		if recs := fetches.Records(); len(recs) > 0 {
			c.handleFetch(ctx, handlerCtx, cl, recs)
		}
	}
	return c.flush(cl, "shutdown")
}

// Prepare checks that the cluster runs share groups ([CheckShareGroups]),
// reads the group's share.delivery.count.limit, sets its
// share.auto.offset.reset to earliest with [ShareFromBeginning], and makes
// sure of the dead-letter topics as [Consumer.EnsureTopics] does, through
// a client of the configuration alone. Run calls it unless a call has
// succeeded; call it before Run to stop a program at start. An error
// wrapping [ErrShareGroupsUnsupported], or an owntopics error, is the
// cluster's answer; any other means it could not be asked.
func (c *ShareConsumer) Prepare(ctx context.Context) error {
	c.mu.Lock()
	err := c.runState()
	subs := slices.Collect(maps.Values(c.subs))
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if len(subs) == 0 {
		return ErrNoSubscriptions
	}
	cl, err := kgo.NewClient(append(slices.Clone(c.kopts), kgo.WithLogger(kgolog.New(c.clientLogger)))...)
	if err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectionTimeout+c.cfg.RequestTimeout)
	defer cancel()
	if err := CheckShareGroups(ctx, cl); err != nil {
		return err
	}
	limit, err := c.deliveryCountLimit(ctx, cl)
	if err != nil {
		return err
	}
	if c.opts.shareFromBeginning {
		if err := setShareGroupConfig(ctx, cl, c.group, "share.auto.offset.reset", "earliest"); err != nil {
			return fmt.Errorf("consumer: set share group %q's share.auto.offset.reset to earliest: %w", c.group, err)
		}
	}
	if err := owntopics.Ensure(ctx, cl, c.cfg.OwnTopics, c.logger, shareTopicSpecs(subs)...); err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	c.mu.Lock()
	c.limit = limit
	c.mu.Unlock()
	return nil
}

// prepareForRun runs Prepare unless a call succeeded, again and again
// while the cluster cannot be asked, until ctx ends; the cluster's
// answer that it cannot (no share groups, a topic refused) is returned.
func (c *ShareConsumer) prepareForRun(ctx context.Context) error {
	for try := 1; c.DeliveryCountLimit() == 0; try++ {
		err := c.Prepare(ctx)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrShareGroupsUnsupported), owntopics.IsTopicError(err),
			errors.Is(err, ErrClosed), errors.Is(err, ErrRunning), errors.Is(err, ErrRunEnded), errors.Is(err, ErrNoSubscriptions):
			return err
		}
		c.setErr(err)
		c.logger.LogAttrs(ctx, slog.LevelWarn, "cannot ask the cluster about the share group yet; trying again", slog.Int("try", try), logattr.Err(err))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff.Exponential(c.cfg.RetryBackoff, 30*time.Second, try)):
		}
	}
	return nil
}

// deliveryCountLimit is the group's share.delivery.count.limit, or
// Apache Kafka's default when the cluster does not say.
func (c *ShareConsumer) deliveryCountLimit(ctx context.Context, cl *kgo.Client) (int, error) {
	v, err := shareGroupConfig(ctx, cl, c.group, "share.delivery.count.limit")
	if err != nil {
		return 0, fmt.Errorf("consumer: describe share group %q's share.delivery.count.limit: %w", c.group, err)
	}
	if v == "" {
		return DefaultDeliveryCountLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("consumer: share group %q's share.delivery.count.limit %q is not a positive whole number", c.group, v)
	}
	return n, nil
}

// shareTopicSpecs are the subscriptions' dead-letter topics, each once.
func shareTopicSpecs(subs []*shareSub) []owntopics.Spec {
	specs := map[string]*owntopics.Spec{}
	for _, s := range subs {
		if s.deadLetterTopic == "" {
			continue
		}
		spec := specs[s.deadLetterTopic]
		if spec == nil {
			spec = &owntopics.Spec{Name: s.deadLetterTopic}
			specs[s.deadLetterTopic] = spec
		}
		spec.Sources = append(spec.Sources, s.topic)
	}
	out := make([]owntopics.Spec, 0, len(specs))
	for _, name := range slices.Sorted(maps.Keys(specs)) {
		spec := specs[name]
		slices.Sort(spec.Sources)
		spec.Role = "dead-letter topic of " + strings.Join(spec.Sources, ", ")
		spec.PartitionsWhy = deadLetterPartitionsWhy
		out = append(out, *spec)
	}
	return out
}

// runState says why Run cannot start: closed, running or run. The caller
// holds c.mu.
func (c *ShareConsumer) runState() error {
	switch {
	case c.closed:
		return ErrClosed
	case c.client == nil:
		return nil
	}
	select {
	case <-c.runDone:
		return ErrRunEnded
	default:
		return ErrRunning
	}
}

// start builds the share group client, once.
func (c *ShareConsumer) start(stop context.CancelFunc) (*kgo.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.runState(); err != nil {
		return nil, err
	}
	opts := slices.Clone(c.kopts)
	opts = append(opts,
		kgo.WithLogger(kgolog.New(c.clientLogger)),
		kgo.ShareGroup(c.group),
		kgo.ConsumeTopics(slices.Collect(maps.Keys(c.subs))...),
		// At most one fetch of records at a time, none fetched ahead:
		// a record fetched is leased, and one waiting behind a slow
		// fetch would see its lock run out unrenewed.
		kgo.ShareMaxRecords(int32(c.opts.shareConcurrency)),
		kgo.ShareMaxRecordsStrict(),
		// franz-go's advice for share groups: a fetch waits for records
		// at most half a second (KAFKA_MAX_WAIT_TIME may say less).
		kgo.FetchMaxWait(min(c.cfg.MaxWaitTime, maxShareFetchWait)),
		kgo.ShareAckCallback(c.acked),
		kgo.RecordPartitioner(producer.Partitioner()),
	)
	opts = append(opts, c.opts.clientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	c.deadLetters, err = producer.New(c.cfg, producer.Client(cl), producer.Logger(c.logger))
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("consumer: %w", err)
	}
	c.client, c.stopRun, c.runDone = cl, stop, make(chan struct{})
	return cl, nil
}

// acked logs the answers the brokers refused: their records come again
// once their lock runs out.
func (c *ShareConsumer) acked(_ *kgo.Client, results kgo.ShareAckResults) {
	for _, r := range results {
		if r.Err == nil {
			continue
		}
		c.setErr(r.Err)
		c.logger.LogAttrs(context.Background(), slog.LevelWarn, "the broker refused answers for records; they are delivered again when their lock runs out",
			logattr.Topic(r.Topic), logattr.Partition(r.Partition), logattr.Err(r.Err))
	}
}

// flush sends the answers not sent yet, within a shutdown timeout.
func (c *ShareConsumer) flush(cl *kgo.Client, why string) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.ShutdownTimeout)
	defer cancel()
	if err := cl.FlushAcks(ctx); err != nil {
		c.logger.LogAttrs(ctx, slog.LevelError, "answers for records not sent; they are delivered again when their lock runs out",
			slog.String("during", why), logattr.Err(err))
		return fmt.Errorf("consumer: flush acknowledgements: %w", err)
	}
	c.logger.LogAttrs(ctx, slog.LevelInfo, "share consumer stopped")
	return nil
}

// Close stops consuming if Run has not (waiting for Run to finish its
// handlers and send their answers), then leaves the share group, which
// releases any record still held, and closes the connections. It is
// safe to call more than once and without Run.
func (c *ShareConsumer) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	cl, stopRun, runDone := c.client, c.stopRun, c.runDone
	c.mu.Unlock()
	if cl == nil {
		return nil
	}
	stopRun()
	<-runDone
	cl.Close()
	c.joined.Store(false)
	return nil
}

// Ready reports whether Run has checked the cluster and started the
// share group's client. The brokers assign partitions to members as
// they see fit; a member with none assigned is still ready.
func (c *ShareConsumer) Ready() bool { return c.joined.Load() }

// Err returns the last error the consumer met while running (a failed
// fetch, acknowledgement or dead-letter write), or nil.
func (c *ShareConsumer) Err() error {
	if p := c.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

func (c *ShareConsumer) setErr(err error) { c.lastErr.Store(&err) }

// Group returns the share group's name.
func (c *ShareConsumer) Group() string { return c.group }

// Topics returns the subscribed topics, sorted.
func (c *ShareConsumer) Topics() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Sorted(maps.Keys(c.subs))
}

// InFlight returns how many records of each partition this consumer is
// handling now, by topic and partition; partitions with none are left
// out.
func (c *ShareConsumer) InFlight() map[string]map[int32]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]map[int32]int{}
	for tp, n := range c.inFlight {
		if out[tp.topic] == nil {
			out[tp.topic] = map[int32]int{}
		}
		out[tp.topic][tp.partition] = n
	}
	return out
}

// DeliveryCountLimit returns the group's share.delivery.count.limit as
// Run read it, or 0 before Run has.
func (c *ShareConsumer) DeliveryCountLimit() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.limit
}
