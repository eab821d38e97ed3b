package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/internal/backoff"
	"github.com/kafkakit/kafkakit/internal/balancer"
	"github.com/kafkakit/kafkakit/internal/kgolog"
	"github.com/kafkakit/kafkakit/internal/logattr"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

var (
	// ErrClosed is returned by Run and Subscribe once the Consumer is
	// closed.
	ErrClosed = errors.New("consumer: closed")
	// ErrRunning is returned by Subscribe and by a second Run while Run is
	// running.
	ErrRunning = errors.New("consumer: already running")
	// ErrRunEnded is returned by Subscribe and Run once Run has returned:
	// a Consumer runs once, since its group membership and client end
	// with Run. Create a new Consumer to consume again.
	ErrRunEnded = errors.New("consumer: Run has ended; a Consumer runs once")
	// ErrNoSubscriptions is returned by Run when nothing was subscribed.
	ErrNoSubscriptions = errors.New("consumer: no subscriptions")
)

// maxPollRecords bounds one poll, so that one busy partition cannot make
// the others wait for a huge dispatch.
const maxPollRecords = 10000

// minCommitInterval is franz-go's lower bound on autocommitting.
const minCommitInterval = 100 * time.Millisecond

// abandonWait is how long a stopped partition waits for a handler after
// cancelling its context before giving up on it.
const abandonWait = time.Second

// Consumer consumes topics in one consumer group. Subscribe topics, then
// Run until the context ends, then Close. Its methods are safe for
// concurrent use.
type Consumer struct {
	cfg    config.Kafka
	group  string
	opts   options
	logger *slog.Logger
	// clientLogger is franz-go's: logger without the group attribute.
	clientLogger *slog.Logger
	kopts        []kgo.Opt
	// readOpts are the options of the clients that only look topics up
	// or read (the topic check, the retry path's reader): they never
	// have the brokers create a topic on first use.
	readOpts []kgo.Opt

	mu   sync.Mutex
	subs map[string]*subscription
	// retryTopics maps each retry topic to its subscription.
	retryTopics map[string]*subscription
	client      *kgo.Client // nil until Run
	// deadLetters sends through client, so dead letters share its
	// connections and idempotent producer.
	deadLetters *producer.Producer
	stopRun     context.CancelFunc // ends Run's poll loop
	runDone     chan struct{}      // closed when Run has returned
	// handlerCtx is Run's context without its cancellation: handler
	// contexts derive from it, so that they carry its values (trace ids,
	// loggers) but end only when their partition stops, after the grace
	// the shutdown timeout gives them.
	handlerCtx context.Context
	leaveErr   error // the commit of the revoke Close's leaving ran, for Close
	workers    map[topicPartition]*partitionWorker
	parking    map[parkingKey]*parkedKeys // per subscribed partition with retry topics
	// newClientMu serialises the parking rebuilds' kgo.NewClient calls.
	newClientMu sync.Mutex
	// rebuilds are the parking rebuilds' goroutines: Run's end and Close
	// wait for them, once stopping the workers has cancelled them.
	rebuilds   sync.WaitGroup
	stopped    bool // Run has ended or Close began: start no more workers
	closed     bool
	hwm        map[topicPartition]int64 // high watermarks seen, for Status
	refreshHWM chan struct{}            // ask the brokers for high watermarks now

	observed bool // an Observer was given: time handler calls for it

	// topicsEnsured is set, under mu, once EnsureTopics has succeeded,
	// so that Run need not call it.
	topicsEnsured bool

	joined  atomic.Bool
	lastErr atomic.Pointer[error]
}

type topicPartition struct {
	topic     string
	partition int32
}

// subscription is one topic's handler and failure policy.
type subscription struct {
	topic           string
	handler         Handler
	fromBeginning   bool
	retries         int
	backoff         time.Duration
	maxBackoff      time.Duration
	deadLetterTopic string         // the first dead-letter stage's, for Status
	concurrency     int            // workers per partition; 1 is sequential
	policy          *FailurePolicy // given by Failures; nil: the default
	shorthands      []string       // Retries and DeadLetterTopic given, which shape only the default policy
	stages          []FailureStage // the policy, resolved for topic
	stuckAfter      time.Duration  // with retry topics: a retry record older than this that waits is stuck
}

// New returns a Consumer for the configuration's group (KAFKA_GROUP_ID). It
// validates cfg but does not connect; Run does.
func New(cfg config.Kafka, opts ...Option) (*Consumer, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt.apply(&o)
	}
	switch {
	case o.commitInterval < minCommitInterval:
		return nil, fmt.Errorf("consumer: commit interval %v is below the minimum %v", o.commitInterval, minCommitInterval)
	case o.maxQueuedBytes < 1:
		return nil, fmt.Errorf("consumer: MaxQueuedBytes %d is below 1", o.maxQueuedBytes)
	case o.lagRefresh <= 0:
		return nil, fmt.Errorf("consumer: LagRefresh %v is not positive", o.lagRefresh)
	case o.observer == nil:
		o.observer = noObserver{}
	}
	group := cfg.GroupID
	if o.group != "" {
		group = o.group
	}
	cfg.GroupID = group
	kopts, err := cfg.Opts()
	if err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	readOpts, err := cfg.ReaderOpts()
	if err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	kopts, readOpts = append(kopts, o.connOpts...), append(readOpts, o.connOpts...)
	// franz-go names the group in its own group lines: its logger
	// gets no group attribute, or text logs would say group= twice.
	clientLogger := o.logger.With(logattr.Component("consumer"))
	return &Consumer{
		cfg:          cfg,
		group:        group,
		opts:         o,
		logger:       clientLogger.With(logattr.Group(group)),
		clientLogger: clientLogger,
		kopts:        kopts,
		readOpts:     readOpts,
		subs:         make(map[string]*subscription),
		retryTopics:  make(map[string]*subscription),
		workers:      make(map[topicPartition]*partitionWorker),
		parking:      make(map[parkingKey]*parkedKeys),
		hwm:          make(map[topicPartition]int64),
		refreshHWM:   make(chan struct{}, 1),
		observed:     o.observer != Observer(noObserver{}),
	}, nil
}

// Subscribe registers h for topic. fromBeginning decides where a group that
// has never committed on a partition starts: true for the oldest message,
// false for new messages only, as the Java client's "latest" does (so a
// message sent before the group's first commit on a partition can be
// skipped if that partition moves before the commit). Subscribe must be called before Run; a topic
// can be subscribed once.
func (c *Consumer) Subscribe(topic string, fromBeginning bool, h Handler, opts ...SubscribeOption) error {
	if topic == "" {
		return errors.New("consumer: subscribe: empty topic")
	}
	if h == nil {
		return fmt.Errorf("consumer: subscribe %q: nil handler", topic)
	}
	sub := &subscription{
		topic:         topic,
		handler:       Chain(h, c.opts.middlewares...),
		fromBeginning: fromBeginning,
		retries:       c.cfg.HandlerMaxRetries,
		backoff:       c.cfg.HandlerRetryBackoff,
		maxBackoff:    c.cfg.HandlerRetryMaxBackoff,
		concurrency:   1,
	}
	if c.cfg.DLQSuffix != "" {
		sub.deadLetterTopic = topic + c.cfg.DLQSuffix
	}
	for _, opt := range opts {
		opt.applySub(sub)
	}
	if sub.concurrency < 1 {
		return fmt.Errorf("consumer: subscribe %q: key concurrency %d is below 1", topic, sub.concurrency)
	}
	if err := sub.resolvePolicy(); err != nil {
		return fmt.Errorf("consumer: subscribe %q: %w", topic, err)
	}
	if retryStage(sub.stages) >= 0 {
		if err := requireRange(c.cfg); err != nil {
			return fmt.Errorf("consumer: subscribe %q: %w", topic, err)
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.runState(); err != nil {
		return err
	}
	if c.subs[topic] != nil || c.retryTopics[topic] != nil {
		return fmt.Errorf("consumer: topic %q is already subscribed", topic)
	}
	retries := retryTopicNames(sub.stages)
	for _, rt := range retries {
		if c.subs[rt] != nil || c.retryTopics[rt] != nil {
			return fmt.Errorf("consumer: subscribe %q: retry topic %q is already subscribed", topic, rt)
		}
	}
	c.subs[topic] = sub
	for _, rt := range retries {
		c.retryTopics[rt] = sub
	}
	return nil
}

// Run consumes until ctx ends, then stops fetching, lets in-flight handlers
// finish within the shutdown timeout (KAFKA_SHUTDOWN_TIMEOUT), commits what
// was handled and returns. The group is left by Close. Run returns an error
// only if it could not start or the final commit failed; broker trouble
// while running is retried, logged and reported by Err. A Consumer runs
// once: Run after Run has returned is ErrRunEnded.
//
// Run first makes sure of the dead-letter and retry topics, as
// [Consumer.EnsureTopics] does unless a call of it succeeded: a cluster
// that refuses is Run's error, and one that cannot be asked is asked
// again, with backoff, for up to a minute, and the group joined once it
// has answered, or after that minute with a WARN line.
//
// Handler contexts carry ctx's values. They are not cancelled when ctx
// ends but when their handler's grace runs out, as [Handler] says.
func (c *Consumer) Run(ctx context.Context) error {
	handlerCtx := context.WithoutCancel(ctx)
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	// Before the group client exists: its metadata requests could have
	// the brokers create the retry topics with their default partitions.
	if err := c.ensureTopicsForRun(ctx); err != nil {
		return err
	}
	cl, err := c.start(stop, handlerCtx)
	if err != nil {
		return err
	}
	defer close(c.runDone)
	c.logger.LogAttrs(ctx, slog.LevelInfo, "consumer started", slog.Any("topics", c.Topics()))
	var refresher sync.WaitGroup
	defer func() { // nothing Run started outlives it
		stop()
		refresher.Wait()
	}()
	refresher.Go(func() { c.refreshHighWatermarks(ctx, cl, c.opts.lagRefresh) })
	for {
		fetches := cl.PollRecords(ctx, maxPollRecords)
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
		fetches.EachPartition(c.dispatch)
		// Rebalances wait while polled records are handed out, so that
		// records fetched before a revoke never reach a worker started
		// after it. Handing out never blocks: the wait is microseconds.
		cl.AllowRebalance()
	}
	return c.drain()
}

// runState says why the consumer cannot take subscriptions or start Run:
// closed, running or run. The caller holds c.mu.
func (c *Consumer) runState() error {
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

// start builds the client, once, and records how to stop this Run.
func (c *Consumer) start(stop context.CancelFunc, handlerCtx context.Context) (*kgo.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.runState(); err != nil {
		return nil, err
	}
	if len(c.subs) == 0 {
		return nil, ErrNoSubscriptions
	}
	opts := slices.Clone(c.kopts)
	opts = append(opts, c.cfg.GroupOpts()...)
	opts = append(opts,
		kgo.WithLogger(kgolog.New(c.clientLogger)),
		kgo.ConsumeTopics(slices.Concat(slices.Collect(maps.Keys(c.subs)), slices.Collect(maps.Keys(c.retryTopics)))...),
		// Where to go when a committed offset no longer exists: the
		// oldest message loses the least. Partitions without any commit
		// are placed per subscription in adjustOffsets.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Transaction markers come through to be committed past, so
		// that lag reaches 0 after a transaction ends; workers never hand
		// them to a handler.
		kgo.KeepControlRecords(),
		kgo.AutoCommitMarks(),
		kgo.AutoCommitInterval(c.opts.commitInterval),
		kgo.BlockRebalanceOnPoll(),
		// A revoke waits up to the shutdown timeout for handlers; the
		// group must wait longer than that for the member.
		kgo.RebalanceTimeout(max(time.Minute, c.cfg.ShutdownTimeout+10*time.Second)),
		kgo.OnPartitionsAssigned(c.assigned),
		kgo.OnPartitionsRevoked(c.revoked),
		kgo.OnPartitionsLost(c.lost),
		kgo.AdjustFetchOffsetsFn(c.adjustOffsets),
		// Dead letters keep the original partition when the dead-letter
		// topic has it, as Spring does.
		kgo.RecordPartitioner(producer.Partitioner()),
	)
	if len(c.retryTopics) > 0 && c.cfg.GroupProtocol != config.GroupProtocolConsumer {
		// Offered first, range after it: a group whose members all offer
		// it rebalances cooperatively and keeps partition p of a topic and
		// of its retry topics together; one with older members runs range.
		// With the consumer protocol (KIP-848) the broker assigns, with
		// range, which franz-go needs first.
		opts = append(opts, kgo.Balancers(balancer.Colocated(), kgo.RangeBalancer()))
	}
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
	c.client = cl
	c.stopRun, c.runDone, c.handlerCtx = stop, make(chan struct{}), handlerCtx
	return cl, nil
}

// adjustOffsets starts partitions that have no committed offset at the
// oldest or the newest message, as their subscription asks.
func (c *Consumer) adjustOffsets(_ context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	for topic, partitions := range offsets {
		sub := c.subscription(topic)
		if sub == nil || sub.fromBeginning {
			continue // the reset offset is already the start
		}
		for p, o := range partitions {
			if o.EpochOffset().Offset < 0 { // no commit: a reset sentinel
				partitions[p] = kgo.NewOffset().AtEnd()
			}
		}
	}
	return offsets, nil
}

func (c *Consumer) subscription(topic string) *subscription {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subs[topic]
}

// dispatch queues polled records on their partition's worker. Records of a
// partition that is no longer ours are dropped: its next owner fetches them
// again from the committed offset.
func (c *Consumer) dispatch(p kgo.FetchTopicPartition) {
	if p.Err == nil && p.HighWatermark >= 0 {
		c.noteHighWatermark(p.Topic, p.Partition, p.HighWatermark)
	}
	if len(p.Records) == 0 {
		return
	}
	c.mu.Lock()
	w := c.workers[topicPartition{p.Topic, p.Partition}]
	c.mu.Unlock()
	if w == nil || !w.enqueue(p.Records) {
		c.logger.LogAttrs(context.Background(), slog.LevelDebug, "dropping records of a partition no longer assigned",
			logattr.Topic(p.Topic), logattr.Partition(p.Partition), slog.Int("records", len(p.Records)))
	}
}

func (c *Consumer) assigned(_ context.Context, cl *kgo.Client, assigned map[string][]int32) {
	c.joined.Store(true)
	c.lastErr.Store(nil)
	unknown, ok := c.startWorkers(cl, assigned)
	if !ok {
		return
	}
	for _, topic := range unknown {
		c.logger.LogAttrs(context.Background(), slog.LevelWarn, "assigned a topic this consumer did not subscribe to; ignoring it",
			logattr.Topic(topic))
	}
	if len(assigned) > 0 {
		c.logger.LogAttrs(context.Background(), slog.LevelInfo, "partitions assigned", slog.Any("partitions", assigned))
		// Fetches bring no high watermark for an empty or idle
		// partition: ask at once rather than show its lag as unknown.
		signal(c.refreshHWM)
	}
}

// startWorkers starts a worker for each assigned partition that has none
// and returns the assigned topics it does not know. It reports false, and
// starts nothing, once the consumer is stopping.
func (c *Consumer) startWorkers(cl *kgo.Client, assigned map[string][]int32) (unknown []string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil, false
	}
	for topic, partitions := range assigned {
		sub := c.subs[topic]
		if sub == nil {
			sub = c.retryTopics[topic]
		}
		if sub == nil {
			unknown = append(unknown, topic)
			continue
		}
		for _, p := range partitions {
			tp := topicPartition{topic, p}
			if c.workers[tp] != nil {
				continue
			}
			w := newPartitionWorker(c, cl, sub, topic, p)
			w.parked = c.holdParking(sub, p)
			if w.parked != nil && !w.retry {
				w.parkQ = newParkWriter(w)
			}
			c.workers[tp] = w
			go w.run()
		}
	}
	return unknown, true
}

// revoked runs before the group gives partitions to another member: it
// lets their handlers finish, then commits, so the next owner starts right
// after the last handled message.
func (c *Consumer) revoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	c.stopWorkers(c.takeWorkers(revoked), c.cfg.ShutdownTimeout)
	err := c.commit(ctx, cl, "revoke")
	c.mu.Lock()
	if c.closed {
		c.leaveErr = err // Close is leaving the group: it reports this
	}
	c.mu.Unlock()
	if len(revoked) > 0 {
		c.logger.LogAttrs(ctx, slog.LevelInfo, "partitions revoked", slog.Any("partitions", revoked))
	}
}

// lost runs when the group has already given the partitions away (the
// session expired): commits would be rejected, so handlers are cancelled
// at once and their messages left for the new owner.
func (c *Consumer) lost(ctx context.Context, _ *kgo.Client, lost map[string][]int32) {
	c.joined.Store(false)
	c.stopWorkers(c.takeWorkers(lost), 0)
	c.logger.LogAttrs(ctx, slog.LevelWarn, "partitions lost; unhandled messages will be redelivered to their new owner",
		slog.Any("partitions", lost))
}

// takeWorkers removes the workers of the given partitions.
func (c *Consumer) takeWorkers(which map[string][]int32) []*partitionWorker {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ws []*partitionWorker
	for topic, partitions := range which {
		for _, p := range partitions {
			tp := topicPartition{topic, p}
			if w := c.workers[tp]; w != nil {
				ws = append(ws, w)
				delete(c.workers, tp)
				c.releaseParking(w)
			}
		}
	}
	return ws
}

// stopAll stops every worker, leaving them in place while they finish so
// that a revoke or loss arriving meanwhile finds them and waits for them
// (or cancels them) before the partitions move; then removes them.
func (c *Consumer) stopAll(grace time.Duration) {
	c.mu.Lock()
	c.stopped = true
	ws := make([]*partitionWorker, 0, len(c.workers))
	for _, w := range c.workers {
		ws = append(ws, w)
	}
	c.mu.Unlock()
	c.stopWorkers(ws, grace)
	c.mu.Lock()
	for tp, w := range c.workers {
		if slices.Contains(ws, w) {
			delete(c.workers, tp)
			c.releaseParking(w)
		}
	}
	c.mu.Unlock()
}

// stopWorkers stops ws concurrently, giving in-flight handlers grace to
// finish before their contexts are cancelled.
func (c *Consumer) stopWorkers(ws []*partitionWorker, grace time.Duration) {
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() { w.stop(grace) })
	}
	wg.Wait()
}

// commit commits what was handled, retrying retriable failures (a moving
// coordinator, a timeout) for up to a request timeout.
func (c *Consumer) commit(ctx context.Context, cl *kgo.Client, why string) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	for try := 1; ; try++ {
		err := cl.CommitMarkedOffsets(ctx)
		if err == nil {
			return nil
		}
		if kerr.IsRetriable(err) && ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-time.After(backoff.Exponential(c.cfg.RetryBackoff, time.Second, try)):
			}
			continue
		}
		c.setErr(err)
		c.logger.LogAttrs(ctx, slog.LevelError, "commit failed; handled messages may be delivered again",
			slog.String("during", why), logattr.Err(err))
		return fmt.Errorf("consumer: commit: %w", err)
	}
}

// drain ends Run: no new workers, in-flight handlers finish within the
// shutdown timeout, and handled offsets are committed.
func (c *Consumer) drain() error {
	c.mu.Lock()
	cl := c.client
	c.mu.Unlock()
	// A rebalance may now run: its revoke waits for the workers below.
	cl.AllowRebalance()
	c.stopAll(c.cfg.ShutdownTimeout)
	c.rebuilds.Wait()
	err := c.commit(context.Background(), cl, "shutdown")
	c.logger.LogAttrs(context.Background(), slog.LevelInfo, "consumer stopped")
	return err
}

// Close stops consuming if Run has not (waiting for Run to finish its
// handlers and commit), leaves the group and closes the connections. It
// returns the error of the commit made on leaving the group (Run returns
// its own final commit's error). It is safe to call more than once and
// without Run.
func (c *Consumer) Close() error {
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
	<-runDone // Run drained: handlers finished, offsets committed
	c.stopAll(c.cfg.ShutdownTimeout)
	c.rebuilds.Wait()
	// Leaving the group runs revoked, which commits what was handled.
	cl.CloseAllowingRebalance()
	c.joined.Store(false)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leaveErr
}

// Ready reports whether the consumer has joined its group and has its
// assignment (possibly empty: a group can have more members than
// partitions).
func (c *Consumer) Ready() bool { return c.joined.Load() }

// Err returns the last error the consumer met while running (a failed
// fetch, commit or dead-letter write), or nil. It is cleared when the
// group next assigns partitions.
func (c *Consumer) Err() error {
	if p := c.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

func (c *Consumer) setErr(err error) { c.lastErr.Store(&err) }

// Group returns the consumer group ID.
func (c *Consumer) Group() string { return c.group }

// Topics returns the subscribed topics, sorted.
func (c *Consumer) Topics() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Sorted(maps.Keys(c.subs))
}
