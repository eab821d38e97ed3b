package idempotency

import (
	"container/list"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/internal/backoff"
	"github.com/kafkakit/kafkakit/internal/logattr"
	"github.com/kafkakit/kafkakit/internal/owntopics"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Topic is the compacted topic holding Idempotency-Key state.
const Topic = "__kafkakit_idempotency"

// defaultPartitions is the partition count of a topic this package
// creates; an existing topic keeps its own.
const defaultPartitions = 8

// Store remembers the answers to requests carrying an
// Idempotency-Key, in Topic, so that every service instance on
// the cluster, and every restart, sees the same keys.
//
// The log decides who processes a key. Each instance consumes the whole
// topic into memory, applying records in offset order with the same rules,
// so that all instances agree. A request whose key is not known writes a
// claim (a random claim id) to the key's partition, then waits until its
// own consumer has applied the partition up to that claim. The first
// claim of a key in the partition wins; a later one loses while the
// winner's claim is live, and its request is answered as a repeat (409
// while the winner is in flight). The winner processes the request, writes
// the answer (status and body) and only then answers. A claim is live for
// the lease (the request timeout plus a margin); an answer for the TTL.
// Before answering 409, an instance reads the key's partition to its end
// as it is then (for at most catchUpWait), so that a request completed on
// another instance is answered with its stored answer.
//
// Failure cases: an instance that dies after claiming and before sending
// leaves a claim that expires with its lease, after which the key can be
// claimed again. One that dies after sending and before writing the answer
// also leaves only a claim: when it expires, a repeat is processed again and
// its records are written a second time. Instances compare record
// timestamps with their own clocks, so clock skew shifts expiry by as
// much; a timestamp ahead of the local clock counts as now.
//
// Record keys are scope, key and claim id, so that compaction keeps the
// last record of each claim (the answer replaces its claim) and deletion
// (retention.ms of at least twice the TTL, see EnsureTopic)
// drops old ones. Any client can write the
// topic, so every record is decoded with checks: one that does not decode
// is skipped, logged at WARN and counted in [Stats].
//
// Memory holds one entry per key seen within the TTL, with the answer
// body (at most a send-batch answer), and at most MaxKeys entries of
// at most MaxBytes in all: beyond, the entry written longest ago is
// evicted, and a repeat of its key is processed as a new request. Answers
// already past the TTL are not loaded when the topic is read again after
// a restart; expired entries are swept.
type Store struct {
	cl         *kgo.Client
	ttl, lease time.Duration
	partitions int32
	opts       storeOptions

	mu       sync.Mutex
	entries  map[string]*list.Element // of *idemEntry, in order
	order    list.List                // the entries, least recently written first
	bytes    int64                    // the entries' size, see idemEntry.size
	evicted  int64
	skipped  int64
	applied  map[int32]int64 // next offset to apply, per partition
	progress chan struct{}   // closed and replaced as records are applied

	stop context.CancelFunc
	done chan struct{}
}

type idemEntry struct {
	key    string
	claim  string
	fp     string
	done   bool
	status int
	body   []byte
	at     time.Time // when claimed, or answered
}

// entryOverhead approximates what an entry costs beyond its strings and
// body: the entry itself, its list element and its map slot, and the
// rounding up of each allocation. BenchmarkIdempotencyReplay compares the
// estimate with the heap the store frees.
const entryOverhead = 240

// size approximates the bytes e holds.
func (e *idemEntry) size() int64 {
	return int64(len(e.key) + len(e.claim) + len(e.fp) + len(e.body) + entryOverhead)
}

// idemRecord is a record's value.
type idemRecord struct {
	Claim  string `json:"claim"`
	FP     string `json:"fp"`
	State  string `json:"state"` // claimed, done or released
	Status int    `json:"status,omitempty"`
	Body   []byte `json:"body,omitempty"`
}

// The states of a record.
const (
	stateClaimed  = "claimed"
	stateDone     = "done"
	stateReleased = "released"
)

// maxClaim bounds a claim id's length; ours are 32 hex digits.
const maxClaim = 64

// decodeIdemRecord decodes a record of Topic: its key is the
// entry's key followed by the claim id, its value an idemRecord. The
// record was written by any client, so that nothing is taken on trust.
func decodeIdemRecord(key, value []byte) (string, idemRecord, error) {
	var v idemRecord
	if value == nil {
		return "", v, errors.New("no value")
	}
	if err := json.Unmarshal(value, &v); err != nil {
		return "", v, fmt.Errorf("value is not a record: %w", err)
	}
	switch {
	case v.Claim == "" || len(v.Claim) > maxClaim:
		return "", v, fmt.Errorf("claim id of %d bytes, want 1 to %d", len(v.Claim), maxClaim)
	case len(key) <= len(v.Claim) || string(key[len(key)-len(v.Claim):]) != v.Claim:
		return "", v, errors.New("the key does not end with the claim id after a key")
	case v.State != stateClaimed && v.State != stateDone && v.State != stateReleased:
		return "", v, fmt.Errorf("unknown state %.40q", v.State)
	case v.State == stateDone && (v.Status < 100 || v.Status > 599):
		return "", v, fmt.Errorf("answer status %d is not an HTTP status", v.Status)
	}
	return string(key[:len(key)-len(v.Claim)]), v, nil
}

// Option configures Open.
type Option interface{ applyStore(*storeOptions) }

type storeOptions struct {
	maxKeys    int
	maxBytes   int64
	logger     *slog.Logger
	clientOpts []kgo.Opt
	// topicEnsured: the caller ran EnsureTopic.
	topicEnsured bool
}

type storeOptionFunc func(*storeOptions)

func (f storeOptionFunc) applyStore(o *storeOptions) { f(o) }

// The defaults of MaxKeys and MaxBytes.
const (
	DefaultMaxKeys  = 100_000
	DefaultMaxBytes = 128 << 20
)

// MaxKeys bounds the keys the store holds, overriding the default
// DefaultMaxKeys (HTTP_IDEMPOTENCY_MAX_KEYS). Beyond it the
// key written longest ago is evicted: a repeat of it is processed as a
// new request. n below 1 counts as 1.
func MaxKeys(n int) Option {
	return storeOptionFunc(func(o *storeOptions) { o.maxKeys = max(n, 1) })
}

// MaxBytes bounds the memory the store's keys hold, as
// Stats.Bytes counts it, overriding the default
// DefaultMaxBytes (HTTP_IDEMPOTENCY_MAX_BYTES). Beyond it keys
// are evicted as beyond MaxKeys; the newest key is always kept,
// however large.
func MaxBytes(n int64) Option {
	return storeOptionFunc(func(o *storeOptions) { o.maxBytes = n })
}

// Logger sets the logger for records skipped as undecodable,
// overriding the default slog.Default().
func Logger(l *slog.Logger) Option {
	return storeOptionFunc(func(o *storeOptions) { o.logger = l })
}

// TopicEnsured skips Open's call of
// EnsureTopic, for a caller that made it already (and so
// reported each problem once). The default makes the call.
func TopicEnsured() Option {
	return storeOptionFunc(func(o *storeOptions) { o.topicEnsured = true })
}

// ClientOpts adds opts to the store's franz-go client's (hooks for
// metrics, say). The default adds none.
func ClientOpts(opts ...kgo.Opt) Option {
	return storeOptionFunc(func(o *storeOptions) { o.clientOpts = append(o.clientOpts, opts...) })
}

// Open makes sure of Topic (see
// EnsureTopic), reads it, and returns a store remembering
// answers for ttl. lease bounds how long a claim of a request in flight
// holds; use more than the request timeout. Close it when done.
func Open(ctx context.Context, cfg config.Kafka, ttl, lease time.Duration, opts ...Option) (*Store, error) {
	o := storeOptions{maxKeys: DefaultMaxKeys, maxBytes: DefaultMaxBytes, logger: slog.Default()}
	for _, opt := range opts {
		opt.applyStore(&o)
	}
	base, err := cfg.Client.Opts()
	if err != nil {
		return nil, fmt.Errorf("httpapi: idempotency: %w", err)
	}
	base = append(base, o.clientOpts...)
	// The topic is made sure of before a client consumes it: a
	// consuming client's metadata requests would have an auto-creating
	// cluster make it first, with the brokers' defaults (not compacted).
	if !o.topicEnsured {
		if err := ensureTopic(ctx, cfg, ttl, o.logger); err != nil {
			return nil, fmt.Errorf("httpapi: idempotency: %w", err)
		}
	}
	cl, err := kgo.NewClient(append(base, kgo.ConsumeTopics(Topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.FetchMaxWait(200*time.Millisecond))...)
	if err != nil {
		return nil, fmt.Errorf("httpapi: idempotency: %w", err)
	}
	s := &Store{cl: cl, ttl: ttl, lease: lease, opts: o, entries: map[string]*list.Element{},
		applied: map[int32]int64{}, progress: make(chan struct{}), done: make(chan struct{})}
	ends, err := s.endOffsets(ctx)
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("httpapi: idempotency: %w", err)
	}
	s.partitions = int32(len(ends))
	var runCtx context.Context
	runCtx, s.stop = context.WithCancel(context.Background())
	go s.run(runCtx)
	// Read what the topic holds before answering, so that a restarted
	// instance replays answers at once rather than claiming again.
	for p, end := range ends {
		if err := s.waitApplied(ctx, p, end-1); err != nil {
			s.Close()
			return nil, fmt.Errorf("httpapi: idempotency: reading %s: %w", Topic, err)
		}
	}
	return s, nil
}

// EnsureTopic makes sure Topic exists and fits a
// store remembering answers for ttl, as cfg's OwnTopics says
// (KAFKA_TOPICS_CREATE, KAFKA_TOPICS_STRICT): a missing topic is created
// with 8 partitions, cleanup.policy=compact,delete and a retention.ms of
// twice ttl; an existing one keeps its partitions, and one whose
// retention.ms is shorter than twice ttl has it raised, said in an INFO
// line, since the topic is kafkakit's whoever created it: instances with
// different TTLs so end with the longest one's retention. A topic that is
// not compacted, or has a retention.bytes, is reported in a WARN line
// (an error when strict) and left as it is. The error is an owntopics
// error naming the topic when the cluster refused, or the topic is
// missing and may not be created; any other error means the cluster
// could not be asked. Open calls it, unless given
// TopicEnsured. Of opts, only the logger applies: the client options
// are for the store's own client, whose hooks (metrics) may not be shared
// by two clients at once.
func EnsureTopic(ctx context.Context, cfg config.Kafka, ttl time.Duration, opts ...Option) error {
	o := storeOptions{logger: slog.Default()}
	for _, opt := range opts {
		opt.applyStore(&o)
	}
	if err := ensureTopic(ctx, cfg, ttl, o.logger); err != nil {
		return fmt.Errorf("httpapi: idempotency: %w", err)
	}
	return nil
}

// ensureTopic is EnsureTopic with a client of its
// own, whose look-ups never create the topic on first use: a consuming
// client's would have an auto-creating cluster make it first, with the
// brokers' defaults (not compacted).
func ensureTopic(ctx context.Context, cfg config.Kafka, ttl time.Duration, logger *slog.Logger) error {
	opts, err := cfg.Client.Opts()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	return owntopics.Ensure(ctx, cl, cfg.OwnTopics, logger, owntopics.Spec{
		Name:         Topic,
		Role:         "Idempotency-Key topic",
		Partitions:   defaultPartitions,
		Compacted:    true,
		Retention:    2 * ttl,
		RetentionWhy: fmt.Sprintf("twice the Idempotency-Key TTL (HTTP_IDEMPOTENCY_TTL=%d)", ttl.Milliseconds()),
		Own:          true,
	})
}

// newTopicWait bounds how long a topic just created may be unknown to the
// broker asked about it: Apache Kafka's controller answers the creation
// before every broker has the new metadata.
const newTopicWait = 10 * time.Second

// endOffsets returns the topic's end offsets, per partition.
func (s *Store) endOffsets(ctx context.Context) (map[int32]int64, error) {
	adm := kadm.NewClient(s.cl)
	deadline := time.Now().Add(newTopicWait)
	var listed kadm.ListedOffsets
	for try := 1; ; try++ {
		var err error
		listed, err = adm.ListEndOffsets(ctx, Topic)
		if err == nil {
			err = listed.Error()
		}
		if err == nil {
			break
		}
		if !kerr.IsRetriable(err) || time.Now().After(deadline) {
			return nil, fmt.Errorf("end offsets of %s: %w", Topic, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("end offsets of %s: %w", Topic, err)
		case <-time.After(backoff.Exponential(20*time.Millisecond, 500*time.Millisecond, try)):
		}
	}
	ends := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
	if len(ends) == 0 {
		return nil, fmt.Errorf("%s has no partitions", Topic)
	}
	return ends, nil
}

// Close stops reading the topic and closes the client.
func (s *Store) Close() {
	s.stop()
	<-s.done
	s.cl.Close()
}

// Stats is what an Store holds, and what it let go.
type Stats struct {
	// Keys is the number of keys held: in flight, or answered within
	// the TTL and not yet swept.
	Keys int
	// Bytes approximates the memory the keys hold: their names, claim
	// ids, fingerprints and answers, plus a fixed cost per key.
	Bytes int64
	// Evicted counts the keys dropped, since the store opened, to stay
	// within MaxKeys and MaxBytes.
	Evicted int64
	// Skipped counts the records of Topic that did not decode
	// and were skipped, since the store opened.
	Skipped int64
}

// Stats returns what the store holds now. It is safe for concurrent use.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Keys: len(s.entries), Bytes: s.bytes, Evicted: s.evicted, Skipped: s.skipped}
}

// decoded is a record that decoded, ready to apply.
type decoded struct {
	key string
	v   idemRecord
	at  time.Time
}

// run applies the topic's records as they come, and sweeps expired entries.
func (s *Store) run(ctx context.Context) {
	defer close(s.done)
	sweep := time.NewTicker(min(max(s.ttl/4, time.Second), time.Minute))
	defer sweep.Stop()
	var batch []decoded
	for {
		fetches := s.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		// Records are decoded, and the bad ones logged, before the lock
		// is taken: nothing slow runs under it.
		batch = batch[:0]
		var skipped int64
		next := map[int32]int64{}
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			for _, r := range p.Records {
				k, v, err := decodeIdemRecord(r.Key, r.Value)
				if err != nil {
					skipped++
					s.opts.logger.LogAttrs(ctx, slog.LevelWarn, "idempotency: skipping a record that does not decode",
						logattr.Topic(r.Topic), logattr.Partition(r.Partition), logattr.Offset(r.Offset), logattr.Err(err))
					continue
				}
				batch = append(batch, decoded{key: k, v: v, at: r.Timestamp})
			}
			if n := len(p.Records); n > 0 {
				next[p.Partition] = p.Records[n-1].Offset + 1
			}
		})
		now := time.Now()
		s.mu.Lock()
		for _, d := range batch {
			s.apply(d, now)
		}
		s.skipped += skipped
		maps.Copy(s.applied, next)
		select {
		case <-sweep.C:
			s.sweep(now)
		default:
		}
		progress := s.progress
		s.progress = make(chan struct{})
		s.mu.Unlock()
		close(progress)
	}
}

// apply folds one record into the entries; s.mu is held. Every instance
// applies the same records in the same order, so all agree on the owner
// of a key.
func (s *Store) apply(d decoded, now time.Time) {
	at := d.at
	if at.After(now) {
		at = now // a forged timestamp must not keep a key for ever
	}
	el := s.entries[d.key]
	var e *idemEntry
	if el != nil {
		e = el.Value.(*idemEntry)
	}
	v := d.v
	switch v.State {
	case stateClaimed:
		if e == nil || s.expired(e, at) {
			s.put(&idemEntry{key: d.key, claim: v.Claim, fp: v.FP, at: at})
		}
	case stateDone: // an answer was given: it stands, whoever held the claim
		if now.Sub(at) > s.ttl {
			// Already expired, as when the topic is read again after a
			// restart: it takes no memory.
			if e != nil {
				s.remove(el)
			}
			return
		}
		s.put(&idemEntry{key: d.key, claim: v.Claim, fp: v.FP, done: true, status: v.Status, body: v.Body, at: at})
	case stateReleased:
		if e != nil && e.claim == v.Claim && !e.done {
			s.remove(el)
		}
	}
}

// put sets e as its key's entry, the most recently written, and evicts
// the entries written longest ago beyond maxKeys or maxBytes, never e;
// s.mu is held.
func (s *Store) put(e *idemEntry) {
	if el := s.entries[e.key]; el != nil {
		s.remove(el)
	}
	s.entries[e.key] = s.order.PushBack(e)
	s.bytes += e.size()
	for len(s.entries) > s.opts.maxKeys || (s.bytes > s.opts.maxBytes && len(s.entries) > 1) {
		s.remove(s.order.Front())
		s.evicted++
	}
}

// remove drops an entry; s.mu is held.
func (s *Store) remove(el *list.Element) {
	e := s.order.Remove(el).(*idemEntry)
	delete(s.entries, e.key)
	s.bytes -= e.size()
}

func (s *Store) expired(e *idemEntry, now time.Time) bool {
	if e.done {
		return now.Sub(e.at) > s.ttl
	}
	return now.Sub(e.at) > s.lease
}

func (s *Store) sweep(now time.Time) {
	for el := s.order.Front(); el != nil; {
		next := el.Next()
		if s.expired(el.Value.(*idemEntry), now) {
			s.remove(el)
		}
		el = next
	}
}

// lookup returns a copy of k's live entry, nil when none.
func (s *Store) lookup(k string) *idemEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	el := s.entries[k]
	if el == nil {
		return nil
	}
	e := el.Value.(*idemEntry)
	if s.expired(e, time.Now()) {
		return nil
	}
	cp := *e
	return &cp
}

// waitApplied waits until partition p is applied through offset.
func (s *Store) waitApplied(ctx context.Context, p int32, offset int64) error {
	for {
		s.mu.Lock()
		ok, ch := s.applied[p] > offset, s.progress
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// catchUpWait bounds how long a request that would be answered 409 waits
// for this instance to read its key's partition to the end.
const catchUpWait = 5 * time.Second

// catchUp reads k's partition up to its end offset as the broker gives it
// now, for at most catchUpWait.
func (s *Store) catchUp(ctx context.Context, k string) error {
	ctx, cancel := context.WithTimeout(ctx, catchUpWait)
	defer cancel()
	p := s.partition(k)
	listed, err := kadm.NewClient(s.cl).ListEndOffsets(ctx, Topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return err
	}
	end, ok := listed.Lookup(Topic, p)
	if !ok {
		return fmt.Errorf("no end offset for partition %d", p)
	}
	return s.waitApplied(ctx, p, end.Offset-1)
}

// Prior is what the store knows of a key that another request claimed.
type Prior struct {
	// Fingerprint identifies the request that claimed the key.
	Fingerprint string
	// Done reports that the answer is known: Status and Body.
	Done   bool
	Status int
	Body   []byte
}

// Claim decides whether the request whose fingerprint is fp processes
// key k: it returns a claim id when it does, for Complete or Release,
// else what is known of the request that does or did.
func (s *Store) Claim(ctx context.Context, k, fp string) (string, *Prior, error) {
	id, e, err := s.claim(ctx, k, fp)
	if e == nil {
		return id, nil, err
	}
	return id, &Prior{Fingerprint: e.fp, Done: e.done, Status: e.status, Body: e.body}, err
}

// claim is Claim with the store's own entry.
func (s *Store) claim(ctx context.Context, k, fp string) (string, *idemEntry, error) {
	if e := s.settled(ctx, k, fp, s.lookup(k)); e != nil {
		return "", e, nil
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	r, err := s.write(ctx, k, idemRecord{Claim: id, FP: fp, State: stateClaimed})
	if err != nil {
		return "", nil, err
	}
	if err := s.waitApplied(ctx, r.Partition, r.Offset); err != nil {
		return "", nil, err
	}
	e := s.lookup(k)
	if e != nil && e.claim == id {
		return id, nil, nil
	}
	if e = s.settled(ctx, k, fp, e); e == nil { // the winner released its claim already
		e = &idemEntry{fp: fp}
	}
	return "", e, nil
}

// settled returns e, k's entry as read so far, unless it would make the
// request's answer 409 (the same request, in flight): then it returns k's
// entry once this instance has read k's partition to its end, so that a
// request completed on another instance gets its stored answer. If that
// cannot be done in time, e stands.
func (s *Store) settled(ctx context.Context, k, fp string, e *idemEntry) *idemEntry {
	if e == nil || e.done || e.fp != fp {
		return e
	}
	if err := s.catchUp(ctx, k); err != nil {
		return e
	}
	return s.lookup(k)
}

// Complete records the answer of claim; Release gives the key up. Both
// return once this instance has applied the record, so that a repeat
// made after the client heard the answer finds it here too.
func (s *Store) Complete(ctx context.Context, k, claim, fp string, status int, body []byte) error {
	return s.writeApplied(ctx, k, idemRecord{Claim: claim, FP: fp, State: stateDone, Status: status, Body: body})
}

func (s *Store) Release(ctx context.Context, k, claim, fp string) error {
	return s.writeApplied(ctx, k, idemRecord{Claim: claim, FP: fp, State: stateReleased})
}

func (s *Store) writeApplied(ctx context.Context, k string, v idemRecord) error {
	r, err := s.write(ctx, k, v)
	if err == nil {
		err = s.waitApplied(ctx, r.Partition, r.Offset)
	}
	return err
}

// write produces v for k to k's partition and waits for the ack.
func (s *Store) write(ctx context.Context, k string, v idemRecord) (*kgo.Record, error) {
	value, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	rec := &kgo.Record{Topic: Topic, Key: []byte(k + v.Claim), Value: value, Partition: s.partition(k)}
	r, err := s.cl.ProduceSync(ctx, rec).First()
	if err != nil {
		return nil, fmt.Errorf("httpapi: idempotency: write %s: %w", Topic, err)
	}
	return r, nil
}

// partition is k's partition of Topic.
func (s *Store) partition(k string) int32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(k))
	return int32(h.Sum32() % uint32(s.partitions))
}
