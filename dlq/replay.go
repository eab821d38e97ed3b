// Package dlq works with dead-letter topics: Replay sends dead letters back
// to the topic and partition they came from, once, as they were before they
// were dead-lettered.
package dlq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/internal/kgolog"
	"github.com/kafkakit/kafkakit/internal/logattr"
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
	// OnRecord, if set, is called for each dead letter before it is sent
	// (or, in a dry run, instead).
	OnRecord func(Record)
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
}

// ErrNoOriginalTopic is returned for a dead letter without a
// kafka_dlt-original-topic header when no To was given.
var ErrNoOriginalTopic = errors.New("dlq: dead letter has no kafka_dlt-original-topic or __connect.errors.topic header; name the destination with --to")

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
func Replay(ctx context.Context, cfg config.Kafka, o ReplayOptions) (Summary, error) {
	sum := Summary{Replayed: map[string]int{}}
	if o.Topic == "" {
		return sum, errors.New("dlq: no dead-letter topic given")
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
	kopts, err := cfg.Opts()
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
	r := &replayer{o: o, logger: logger, adm: adm, until: until, sum: sum}
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
	adm     *kadm.Client
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
	reader, err := kgo.NewClient(append(kopts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.o.Topic: start}))...)
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
		batch, quiet, err := r.poll(ctx)
		if err != nil || quiet {
			return err
		}
		if err := r.replay(ctx, batch); err != nil {
			return err
		}
		done := slog.Int("replayed", r.sum.Total)
		if r.o.DryRun { // nothing was sent: say so
			done = slog.Int("would_replay", r.sum.Total)
		}
		r.logger.LogAttrs(ctx, slog.LevelInfo, "replay progress", done, slog.Int64("remaining", r.sum.Remaining))
	}
	return nil
}

// poll returns the next dead letters to replay: those before the end the
// replay began with, within the limit. quiet says that nothing arrived for
// idleTimeout: the rest of the topic holds none.
func (r *replayer) poll(ctx context.Context) (batch []*kgo.Record, quiet bool, err error) {
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
		if rec.Offset >= r.until[rec.Partition] || r.o.Limit > 0 && r.sum.Total+len(batch) >= r.o.Limit {
			continue
		}
		if r.o.Filter != nil && !r.o.Filter(LetterOf(rec)) {
			r.skip(rec)
			continue
		}
		batch = append(batch, rec)
	}
	return batch, false, nil
}

// replay sends batch back, counts and commits what was acknowledged, and
// notes the partitions read to their end.
func (r *replayer) replay(ctx context.Context, batch []*kgo.Record) error {
	msgs, err := r.prepare(ctx, batch)
	if err != nil {
		return err
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
	for _, rec := range batch {
		if rec.Offset+1 >= r.until[rec.Partition] {
			r.pending--
		}
	}
	return nil
}

// prepare turns batch into the messages to send, reporting each to
// OnRecord. A message keeps its original partition when its topic has it;
// otherwise the partitioner chooses.
func (r *replayer) prepare(ctx context.Context, batch []*kgo.Record) ([]producer.Message, error) {
	msgs := make([]producer.Message, 0, len(batch))
	for _, rec := range batch {
		msg, err := undead(rec, r.o.To, r.parked(), r.o.MaxReplays)
		if err != nil {
			return nil, fmt.Errorf("%w (partition %d offset %d)", err, rec.Partition, rec.Offset)
		}
		parked := msg.Topic == r.parked()
		if parked && r.send != nil {
			if err := r.ensureParked(ctx); err != nil {
				return nil, err
			}
		}
		if msg.Partition != nil && r.send != nil {
			if n, err := r.send.Partitions(ctx, msg.Topic, *msg.Partition); err != nil || *msg.Partition >= n {
				msg.Partition = nil // the send says what is wrong with the topic
			}
		}
		if r.o.OnRecord != nil {
			errMsg, _ := headerOf(rec, consumer.HeaderExceptionMessage)
			if errMsg == nil {
				errMsg, _ = headerOf(rec, connectPrefix+"exception.message")
			}
			to := int32(-1)
			if msg.Partition != nil {
				to = *msg.Partition
			}
			r.o.OnRecord(Record{Partition: rec.Partition, Offset: rec.Offset, Key: rec.Key, To: msg.Topic, ToPartition: to,
				Parked: parked, Error: string(errMsg)})
		}
		msgs = append(msgs, msg)
	}
	return msgs, nil
}

// skip notes a dead letter Filter left, which holds back the partition's
// commits and may be its last.
func (r *replayer) skip(rec *kgo.Record) {
	if r.skipped == nil {
		r.skipped = map[int32]int64{}
	}
	if _, ok := r.skipped[rec.Partition]; !ok {
		r.skipped[rec.Partition] = rec.Offset
	}
	if rec.Offset+1 >= r.until[rec.Partition] {
		r.pending--
	}
}

func (r *replayer) parked() string { return r.o.Topic + ParkedSuffix }

// ensureParked creates the parked topic, with the dead-letter topic's
// partition count and the cluster's default replication, unless it exists.
func (r *replayer) ensureParked(ctx context.Context) error {
	if r.parkedReady {
		return nil
	}
	topic := r.parked()
	topics, err := r.adm.ListTopics(ctx, topic)
	if err != nil {
		return fmt.Errorf("dlq: metadata of %s: %w", topic, err)
	}
	if td, ok := topics[topic]; !ok || td.Err != nil {
		resp, err := r.adm.CreateTopic(ctx, int32(len(r.until)), -1, nil, topic)
		if err == nil {
			err = resp.Err
		}
		switch {
		case errors.Is(err, kerr.TopicAlreadyExists):
			// Created since the look-up: by another replay, or by Apache
			// Kafka on first use, which it answers UNKNOWN_TOPIC_OR_PARTITION
			// to while the topic is being made. kadm returns the topic's
			// error as err too.
		case err != nil:
			return fmt.Errorf("dlq: create %s: %w", topic, err)
		default:
			r.logger.LogAttrs(ctx, slog.LevelInfo, "created the parked topic", slog.String("parked_topic", topic))
		}
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
