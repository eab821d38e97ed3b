// Package dlq works with dead-letter topics: Replay sends dead letters back
// to the topic and partition they came from, once, as they were before they
// were dead-lettered. Dead letters are read as untrusted input: headers
// that do not decode never stop a replay, and a letter whose destination
// is refused (see CheckDestination) stays where it is.
package dlq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/internal/kgolog"
	"github.com/kafkakit/kafkakit/internal/logattr"
	"github.com/kafkakit/kafkakit/internal/owntopics"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ReplayOptions says what to replay.
type ReplayOptions struct {
	// Topic is the dead-letter topic to read. Required.
	Topic string
	// To sends every dead letter to this topic instead of the one in its
	// kafka_dlt-original-topic header.
	To string
	// Limit stops after this many dead letters; 0 means all.
	Limit int
	// DryRun reads and reports without sending or committing anything.
	DryRun bool
	// MaxReplays bounds how often one record is replayed: a dead letter
	// whose kafkakit-replay-count has reached it goes to the topic
	// Topic+".parked" instead of back. 0 means DefaultMaxReplays.
	MaxReplays int
	// Group is where progress is committed, so that a second replay does
	// not send the same dead letter again. The default is the
	// configuration's client ID + "-dlq-replay".
	Group string
	// Filter, if set, selects the dead letters to replay; the others are
	// left where they are. Progress is then committed only up to the
	// first dead letter left in each partition, so that a later replay
	// still finds it: a later replay that selects them sends the selected
	// dead letters after it again.
	Filter func(Letter) bool
	// Allow, if set, is asked about each dead letter's destination in the
	// pass that sends it, just before the letter is sent (the parked topic
	// is not asked: a replay may always park). An error refuses the
	// letter, as does CheckDestination whatever Allow says: a refused
	// letter is not sent, is reported to OnRecord and counted in
	// Summary.Refused, and, like a letter Filter left, holds back the
	// partition's progress, so that it is never marked replayed.
	Allow func(topic string) error
	// OnRecord, if set, is called for each dead letter before it is sent
	// (or, in a dry run, instead), and for each one refused.
	OnRecord func(Record)
	// ReaderOpts are added to the options of the client that reads the
	// dead letters, after the configuration's: to bound what one fetch
	// holds (kgo.FetchMaxBytes, kgo.BrokerMaxReadBytes), for example. The
	// default is none.
	ReaderOpts []kgo.Opt
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// DefaultMaxReplays is ReplayOptions.MaxReplays when none is given.
const DefaultMaxReplays = 3

// ParkedSuffix names the topic that keeps, for a person to look at, the
// dead letters of topic T replayed too often: T+ParkedSuffix.
const ParkedSuffix = ".parked"

// Record describes one dead letter.
type Record struct {
	Partition int32  // in the dead-letter topic
	Offset    int64  // in the dead-letter topic
	Key       []byte // the original key; nil for a null key
	To        string // where it goes
	// ToPartition is the partition it goes to, -1 when the partitioner
	// chooses.
	ToPartition int32
	Parked      bool   // replayed MaxReplays times already: To is the parked topic
	Error       string // the dead-lettering's exception message
	// Refused, when not nil, says why the dead letter was not sent (nor,
	// in a dry run, would be); To is then the destination refused, or ""
	// when its headers name none.
	Refused *RefusedError
}

// Summary is what a replay did.
type Summary struct {
	// Replayed counts the dead letters sent (in a dry run, that would have
	// been sent), by destination topic.
	Replayed map[string]int
	// Total is the sum of Replayed.
	Total int
	// Parked counts the dead letters, included in Replayed and Total,
	// sent to the parked topic instead of back.
	Parked int
	// Remaining is how many dead letters past what was replayed existed
	// when the replay began.
	Remaining int64
	// Refused counts the dead letters not sent because their destination
	// was refused (see RefusedError); they stay, and are in Remaining.
	Refused int
}

// ErrNoOriginalTopic is why a dead letter without a
// kafka_dlt-original-topic (or __connect.errors.topic) header is refused
// when no To was given.
var ErrNoOriginalTopic = errors.New("the dead letter has no kafka_dlt-original-topic or __connect.errors.topic header; name a destination to replay it")

// ErrNoTopic is returned when the dead-letter topic does not exist.
var ErrNoTopic = errors.New("dlq: topic does not exist")

// Replay sends the dead letters of o.Topic back to their original topics
// and partitions (or o.To), as they were before they were dead-lettered,
// each once. It reads Spring's (and kafkakit's) kafka_dlt-* headers and
// Kafka Connect's __connect.errors.* headers; it removes only the headers
// the dead-lettering added (see restoreHeaders) and stamps
// kafkakit-replay-count. A dead letter already replayed o.MaxReplays times
// goes to o.Topic+ParkedSuffix instead, so a record that keeps failing
// cannot loop between topic and dead-letter topic. Progress is
// committed to a consumer group after every acknowledged batch, so an
// interrupted or repeated replay resumes after what was sent. Replay reads
// up to the end of the topic as it was when it began, so new dead letters
// wait for the next replay. Run one replay per topic at a time.
//
// Every destination is checked in the one pass that sends the letter:
// CheckDestination (never an internal topic, never a name Kafka refuses),
// then o.Allow. A letter refused, or one whose headers name no topic when
// o.To is empty, is not sent and not marked replayed, and the replay goes
// on; headers that do not decode never stop it. An o.To that
// CheckDestination or o.Allow refuses is an error before anything is read.
func Replay(ctx context.Context, cfg config.Kafka, o ReplayOptions) (Summary, error) {
	sum := Summary{Replayed: map[string]int{}}
	if o.Topic == "" {
		return sum, errors.New("dlq: no dead-letter topic given")
	}
	if o.To != "" {
		if e := o.check(o.To); e != nil {
			return sum, fmt.Errorf("dlq: replay to: %w", e)
		}
	}
	if o.Group == "" {
		o.Group = cfg.ClientID + "-dlq-replay"
	}
	switch {
	case o.MaxReplays == 0:
		o.MaxReplays = DefaultMaxReplays
	case o.MaxReplays < 0:
		return sum, fmt.Errorf("dlq: MaxReplays %d is negative", o.MaxReplays)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	logger := o.Logger.With(logattr.Component("dlq-replay"), logattr.Topic(o.Topic))
	// The look-ups and the reader never have the brokers create a topic:
	// only the producer that sends letters back asks to.
	kopts, err := cfg.ReaderOpts()
	if err != nil {
		return sum, fmt.Errorf("dlq: %w", err)
	}
	kopts = append(kopts, kgo.WithLogger(kgolog.New(logger)))
	admin, err := kgo.NewClient(kopts...)
	if err != nil {
		return sum, fmt.Errorf("dlq: %w", err)
	}
	defer admin.Close()
	adm := kadm.NewClient(admin)

	if err := mustExist(ctx, admin, o.Topic); err != nil {
		return sum, err
	}
	from, until, err := bounds(ctx, adm, o.Group, o.Topic)
	if err != nil {
		return sum, err
	}
	for p, end := range until {
		sum.Remaining += end - from[p]
	}
	if sum.Remaining == 0 {
		return sum, nil
	}
	r := &replayer{o: o, logger: logger, admin: admin, adm: adm, own: cfg.OwnTopics, until: until, sum: sum}
	if err := r.open(cfg, kopts, from); err != nil {
		return sum, err
	}
	defer r.close()
	err = r.run(ctx)
	return r.sum, err
}

// replayer is one replay's state: what it reads, where it sends, how far
// it got.
type replayer struct {
	o       ReplayOptions
	logger  *slog.Logger
	admin   *kgo.Client // adm's
	adm     *kadm.Client
	own     config.OwnTopics
	reader  *kgo.Client
	send    *producer.Producer // nil in a dry run
	until   map[int32]int64    // per partition, the end when the replay began
	pending int                // partitions not yet read to their end
	// parkedReady: the parked topic is known to exist.
	parkedReady bool
	// skipped is, per partition, the offset of the first dead letter
	// Filter left: progress is not committed past it.
	skipped map[int32]int64
	sum     Summary
}

// open starts reading every partition that has dead letters past from,
// and, unless this is a dry run, the producer that sends them back.
func (r *replayer) open(cfg config.Kafka, kopts []kgo.Opt, from map[int32]int64) error {
	start := make(map[int32]kgo.Offset, len(from))
	for p, off := range from {
		if off < r.until[p] {
			start[p] = kgo.NewOffset().At(off)
		}
	}
	r.pending = len(start)
	ropts := append(slices.Clip(kopts), r.o.ReaderOpts...)
	reader, err := kgo.NewClient(append(ropts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.o.Topic: start}))...)
	if err != nil {
		return fmt.Errorf("dlq: %w", err)
	}
	r.reader = reader
	if !r.o.DryRun {
		if r.send, err = producer.New(cfg, producer.Logger(r.o.Logger)); err != nil {
			reader.Close()
			return err
		}
	}
	return nil
}

func (r *replayer) close() {
	if r.send != nil {
		r.send.Close()
	}
	r.reader.Close()
}

// run replays batch after batch until every partition is read to its end,
// the limit is reached, or nothing more arrives.
func (r *replayer) run(ctx context.Context) error {
	for r.pending > 0 && (r.o.Limit == 0 || r.sum.Total < r.o.Limit) {
		recs, quiet, err := r.poll(ctx)
		if err != nil || quiet {
			return err
		}
		if err := r.replay(ctx, recs); err != nil {
			return err
		}
		done := slog.Int("replayed", r.sum.Total)
		if r.o.DryRun { // nothing was sent: say so
			done = slog.Int("would_replay", r.sum.Total)
		}
		r.logger.LogAttrs(ctx, slog.LevelInfo, "replay progress", done, slog.Int64("remaining", r.sum.Remaining),
			slog.Int("refused", r.sum.Refused))
	}
	return nil
}

// poll returns the next dead letters: those before the end the replay
// began with. quiet says that nothing arrived for idleTimeout: the rest of
// the topic holds none.
func (r *replayer) poll(ctx context.Context) (recs []*kgo.Record, quiet bool, err error) {
	// The last offsets before the end can be transaction markers or
	// compacted away and never arrive: a quiet spell ends the replay.
	pollCtx, cancel := context.WithTimeout(ctx, idleTimeout)
	fetches := r.reader.PollFetches(pollCtx)
	cancel()
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if pollCtx.Err() != nil && fetches.NumRecords() == 0 {
		r.logger.LogAttrs(ctx, slog.LevelInfo, "no more dead letters arrived; the rest of the topic holds none to replay")
		return nil, true, nil
	}
	if err := fetchErr(fetches); err != nil {
		return nil, false, fmt.Errorf("dlq: read %s: %w", r.o.Topic, err)
	}
	for _, rec := range fetches.Records() {
		if rec.Offset < r.until[rec.Partition] {
			recs = append(recs, rec)
		}
	}
	return recs, false, nil
}

// replay decides, sends back and counts recs, commits what was
// acknowledged, and notes the partitions read to their end. A letter past
// the limit is left unread: the next replay reads it again.
func (r *replayer) replay(ctx context.Context, recs []*kgo.Record) error {
	var (
		msgs  []producer.Message
		batch []*kgo.Record // the letter of each of msgs
		seen  []*kgo.Record // the letters decided: sent, left or refused
	)
	for _, rec := range recs {
		if r.o.Limit > 0 && r.sum.Total+len(msgs) >= r.o.Limit {
			break
		}
		seen = append(seen, rec)
		if r.o.Filter != nil && !r.o.Filter(LetterOf(rec)) {
			r.skip(rec)
			continue
		}
		msg, ok, err := r.prepare(ctx, rec)
		if err != nil {
			return err
		}
		if ok {
			msgs, batch = append(msgs, msg), append(batch, rec)
		}
	}
	done, err := deliver(ctx, r.send, msgs, batch)
	for _, i := range done {
		r.sum.Replayed[msgs[i].Topic]++
		r.sum.Total++
		if msgs[i].Topic == r.parked() {
			r.sum.Parked++
		}
	}
	r.sum.Remaining -= int64(len(done))
	if keep := r.committable(batch, done); !r.o.DryRun && len(keep) > 0 {
		if cerr := commit(ctx, r.adm, r.o.Group, r.o.Topic, batch, keep); cerr != nil {
			return errors.Join(err, cerr)
		}
	}
	if err != nil {
		return err
	}
	for _, rec := range seen {
		if rec.Offset+1 >= r.until[rec.Partition] {
			r.pending--
		}
	}
	return nil
}

// prepare turns a dead letter into the message to send, reporting it to
// OnRecord; ok is false when its destination is refused, which is then
// reported, logged and left like a letter Filter left. A message keeps
// its original partition when its topic has it; otherwise the partitioner
// chooses.
func (r *replayer) prepare(ctx context.Context, rec *kgo.Record) (msg producer.Message, ok bool, err error) {
	msg, refused := undead(rec, r.o.To, r.parked(), r.o.MaxReplays)
	parked := refused == nil && msg.Topic == r.parked()
	switch {
	case refused != nil:
	case parked:
		refused = CheckDestination(msg.Topic) // a replay may always park, but never to an internal topic
	default:
		refused = r.o.check(msg.Topic)
	}
	if refused != nil {
		r.refuse(ctx, rec, refused)
		return msg, false, nil
	}
	if parked && r.send != nil {
		if err := r.ensureParked(ctx); err != nil {
			return msg, false, err
		}
	}
	if msg.Partition != nil && r.send != nil {
		if n, err := r.send.Partitions(ctx, msg.Topic, *msg.Partition); err != nil || *msg.Partition >= n {
			msg.Partition = nil // the send says what is wrong with the topic
		}
	}
	if r.o.OnRecord != nil {
		to := int32(-1)
		if msg.Partition != nil {
			to = *msg.Partition
		}
		r.o.OnRecord(Record{Partition: rec.Partition, Offset: rec.Offset, Key: rec.Key, To: msg.Topic, ToPartition: to,
			Parked: parked, Error: exceptionMessage(rec)})
	}
	return msg, true, nil
}

// check is CheckDestination, then Allow.
func (o *ReplayOptions) check(topic string) *RefusedError {
	if e := CheckDestination(topic); e != nil {
		return e
	}
	if o.Allow != nil {
		if err := o.Allow(topic); err != nil {
			return &RefusedError{Reason: ReasonNotAllowed, Topic: topic, Err: err}
		}
	}
	return nil
}

// refuse leaves a dead letter whose destination was refused where it is,
// with one WARN line, and reports it.
func (r *replayer) refuse(ctx context.Context, rec *kgo.Record, e *RefusedError) {
	r.sum.Refused++
	r.skip(rec)
	r.logger.LogAttrs(ctx, slog.LevelWarn, "dead letter not replayed", logattr.Partition(rec.Partition), logattr.Offset(rec.Offset),
		slog.String("reason", e.Reason), slog.String("error", e.Error()))
	if r.o.OnRecord != nil {
		r.o.OnRecord(Record{Partition: rec.Partition, Offset: rec.Offset, Key: rec.Key, To: e.Topic, ToPartition: -1,
			Error: exceptionMessage(rec), Refused: e})
	}
}

// exceptionMessage is the exception message a dead letter carries, in
// Spring's dialect or Kafka Connect's.
func exceptionMessage(rec *kgo.Record) string {
	return firstHeader(rec, consumer.HeaderExceptionMessage, connectPrefix+"exception.message")
}

// skip notes a dead letter that stays in the topic (Filter left it, or its
// destination was refused), which holds back the partition's commits.
func (r *replayer) skip(rec *kgo.Record) {
	if r.skipped == nil {
		r.skipped = map[int32]int64{}
	}
	if _, ok := r.skipped[rec.Partition]; !ok {
		r.skipped[rec.Partition] = rec.Offset
	}
}

func (r *replayer) parked() string { return r.o.Topic + ParkedSuffix }

// ensureParked makes sure of the parked topic before the first letter is
// parked, as the configuration's OwnTopics says (KAFKA_TOPICS_CREATE):
// created, when missing, with the dead-letter topic's partition count and
// the cluster's default replication. Parked letters go where their key
// hashes, so an existing topic's partition count is its own affair.
func (r *replayer) ensureParked(ctx context.Context) error {
	if r.parkedReady {
		return nil
	}
	err := owntopics.Ensure(ctx, r.admin, r.own, r.logger, owntopics.Spec{
		Name:    r.parked(),
		Role:    "parked topic of " + r.o.Topic,
		Sources: []string{r.o.Topic},
	})
	if err != nil {
		return fmt.Errorf("dlq: %w", err)
	}
	r.parkedReady = true
	return nil
}

// idleTimeout ends a replay that has seen nothing for this long.
const idleTimeout = 10 * time.Second

// fetchErr is the first real error of a poll; a poll cut short by its
// context is not one.
func fetchErr(fetches kgo.Fetches) error {
	for _, fe := range fetches.Errors() {
		if !errors.Is(fe.Err, context.DeadlineExceeded) && !errors.Is(fe.Err, context.Canceled) {
			return fe.Err
		}
	}
	return nil
}

// mustExist reports ErrNoTopic for a topic the cluster does not have. It
// asks without auto-creation, so that a mistyped topic is reported, not
// created: kadm, like any client request, would ask with the
// configuration's auto-creation.
func mustExist(ctx context.Context, cl *kgo.Client, topic string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = false
	resp, err := req.RequestWith(ctx, cl)
	if err == nil && len(resp.Topics) != 1 {
		err = fmt.Errorf("broker answered for %d topics", len(resp.Topics))
	}
	if err != nil {
		return fmt.Errorf("dlq: metadata of %s: %w", topic, err)
	}
	switch err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); {
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return fmt.Errorf("%w: %s", ErrNoTopic, topic)
	case err != nil:
		return fmt.Errorf("dlq: metadata of %s: %w", topic, err)
	}
	return nil
}

// bounds returns, per partition, where the replay starts (the group's
// commit, else the log start) and where it stops (the end now).
func bounds(ctx context.Context, adm *kadm.Client, group, topic string) (from, until map[int32]int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("dlq: end offsets of %s: %w", topic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("dlq: start offsets of %s: %w", topic, err)
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		err = nil // a first replay: nothing committed yet
	}
	if err != nil {
		return nil, nil, fmt.Errorf("dlq: progress of group %s: %w", group, err)
	}
	from, until = map[int32]int64{}, map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { until[o.Partition] = o.Offset })
	starts.Each(func(o kadm.ListedOffset) {
		from[o.Partition] = o.Offset
		if c, ok := committed.Lookup(topic, o.Partition); ok && c.At > o.Offset {
			from[o.Partition] = c.At
		}
		from[o.Partition] = min(from[o.Partition], until[o.Partition])
	})
	return from, until, nil
}

// deliver sends msgs and returns the indexes of those acknowledged whose
// every predecessor in the same dead-letter partition was acknowledged too:
// those may be committed. In a dry run every message counts as done.
func deliver(ctx context.Context, p *producer.Producer, msgs []producer.Message, from []*kgo.Record) ([]int, error) {
	all := make([]int, len(msgs))
	for i := range all {
		all[i] = i
	}
	if p == nil || len(msgs) == 0 {
		return all, nil
	}
	results, err := p.SendBatch(ctx, msgs)
	if err == nil {
		return all, nil
	}
	failed := map[int32]bool{}
	var done []int
	for i, res := range results {
		part := from[i].Partition
		if res.Err != nil {
			failed[part] = true
		}
		if !failed[part] {
			done = append(done, i)
		}
	}
	return done, fmt.Errorf("dlq: replay send: %w", err)
}

// committable is those of done before the first dead letter Filter left
// in their partition.
func (r *replayer) committable(batch []*kgo.Record, done []int) []int {
	if len(r.skipped) == 0 {
		return done
	}
	var out []int
	for _, i := range done {
		if first, ok := r.skipped[batch[i].Partition]; !ok || batch[i].Offset < first {
			out = append(out, i)
		}
	}
	return out
}

// commit records progress: per partition, just past the last done record.
func commit(ctx context.Context, adm *kadm.Client, group, topic string, batch []*kgo.Record, done []int) error {
	var offs kadm.Offsets
	for _, i := range done {
		r := batch[i]
		offs.Add(kadm.Offset{Topic: topic, Partition: r.Partition, At: r.Offset + 1, LeaderEpoch: -1})
	}
	resp, err := adm.CommitOffsets(ctx, group, offs)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("dlq: commit replay progress: %w", err)
	}
	return nil
}
