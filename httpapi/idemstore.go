package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/internal/backoff"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// IdempotencyTopic is the compacted topic holding Idempotency-Key state.
const IdempotencyTopic = "__kafkakit_idempotency"

// idempotencyPartitions is the partition count of a topic this package
// creates; an existing topic keeps its own.
const idempotencyPartitions = 8

// IdempotencyStore remembers the answers to requests carrying an
// Idempotency-Key, in IdempotencyTopic, so that every service instance on
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
//
// Failure cases: an instance that dies after claiming and before sending
// leaves a claim that expires with its lease, after which the key can be
// claimed again. One that dies after sending and before writing the answer
// also leaves only a claim: when it expires, a repeat is processed again and
// its records are written a second time. Instances compare record
// timestamps with their own clocks, so clock skew shifts expiry by as
// much.
//
// Record keys are scope, key and claim id, so that compaction keeps the
// last record of each claim (the answer replaces its claim) and deletion
// (retention.ms of twice the TTL) drops old ones. Memory holds one entry
// per key seen within the TTL, with the answer body (at most a send-batch
// answer); expired entries are swept.
type IdempotencyStore struct {
	cl         *kgo.Client
	ttl, lease time.Duration
	partitions int32

	mu       sync.Mutex
	entries  map[string]*idemEntry
	applied  map[int32]int64 // next offset to apply, per partition
	progress chan struct{}   // closed and replaced as records are applied

	stop context.CancelFunc
	done chan struct{}
}

type idemEntry struct {
	claim  string
	fp     string
	done   bool
	status int
	body   []byte
	at     time.Time // when claimed, or answered
}

// idemRecord is a record's value.
type idemRecord struct {
	Claim  string `json:"claim"`
	FP     string `json:"fp"`
	State  string `json:"state"` // claimed, done or released
	Status int    `json:"status,omitempty"`
	Body   []byte `json:"body,omitempty"`
}

// OpenIdempotency creates IdempotencyTopic if missing, reads it, and
// returns a store remembering answers for ttl. lease bounds how long a
// claim of a request in flight holds; use more than the request timeout.
// opts are added to the client's (hooks for metrics). Close it when done.
func OpenIdempotency(ctx context.Context, cfg config.Kafka, ttl, lease time.Duration, opts ...kgo.Opt) (*IdempotencyStore, error) {
	base, err := cfg.Client.Opts()
	if err != nil {
		return nil, fmt.Errorf("httpapi: idempotency: %w", err)
	}
	base = append(base, opts...)
	// The topic is created before a client consumes it: a consuming
	// client's metadata requests would have an auto-creating cluster make
	// it first, with the broker's defaults (not compacted).
	if err := createIdempotencyTopic(ctx, base, ttl); err != nil {
		return nil, fmt.Errorf("httpapi: idempotency: %w", err)
	}
	cl, err := kgo.NewClient(append(base, kgo.ConsumeTopics(IdempotencyTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.FetchMaxWait(200*time.Millisecond))...)
	if err != nil {
		return nil, fmt.Errorf("httpapi: idempotency: %w", err)
	}
	s := &IdempotencyStore{cl: cl, ttl: ttl, lease: lease, entries: map[string]*idemEntry{},
		applied: map[int32]int64{}, progress: make(chan struct{}), done: make(chan struct{})}
	ends, err := s.prepare(ctx)
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("httpapi: idempotency: %w", err)
	}
	var runCtx context.Context
	runCtx, s.stop = context.WithCancel(context.Background())
	go s.run(runCtx)
	// Read what the topic holds before answering, so that a restarted
	// instance replays answers at once rather than claiming again.
	for p, end := range ends {
		if err := s.waitApplied(ctx, p, end-1); err != nil {
			s.Close()
			return nil, fmt.Errorf("httpapi: idempotency: reading %s: %w", IdempotencyTopic, err)
		}
	}
	return s, nil
}

// createIdempotencyTopic creates IdempotencyTopic, compacted, unless it
// exists, with a client of its own that asks for no topic's metadata.
func createIdempotencyTopic(ctx context.Context, opts []kgo.Opt, ttl time.Duration) error {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	retention := fmt.Sprint((2 * ttl).Milliseconds())
	policy := "compact,delete"
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, idempotencyPartitions, -1,
		map[string]*string{"cleanup.policy": &policy, "retention.ms": &retention}, IdempotencyTopic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create %s: %w", IdempotencyTopic, err)
	}
	return nil
}

// newTopicWait bounds how long a topic just created may be unknown to the
// broker asked about it: Apache Kafka's controller answers the creation
// before every broker has the new metadata.
const newTopicWait = 10 * time.Second

// prepare returns the topic's end offsets.
func (s *IdempotencyStore) prepare(ctx context.Context) (map[int32]int64, error) {
	adm := kadm.NewClient(s.cl)
	deadline := time.Now().Add(newTopicWait)
	var listed kadm.ListedOffsets
	for try := 1; ; try++ {
		var err error
		listed, err = adm.ListEndOffsets(ctx, IdempotencyTopic)
		if err == nil {
			err = listed.Error()
		}
		if err == nil {
			break
		}
		if !kerr.IsRetriable(err) || time.Now().After(deadline) {
			return nil, fmt.Errorf("end offsets of %s: %w", IdempotencyTopic, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("end offsets of %s: %w", IdempotencyTopic, err)
		case <-time.After(backoff.Exponential(20*time.Millisecond, 500*time.Millisecond, try)):
		}
	}
	ends := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
	s.partitions = int32(len(ends))
	return ends, nil
}

// Close stops reading the topic and closes the client.
func (s *IdempotencyStore) Close() {
	s.stop()
	<-s.done
	s.cl.Close()
}

// run applies the topic's records as they come, and sweeps expired entries.
func (s *IdempotencyStore) run(ctx context.Context) {
	defer close(s.done)
	sweep := time.NewTicker(min(max(s.ttl/4, time.Second), time.Minute))
	defer sweep.Stop()
	for {
		fetches := s.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			for _, r := range p.Records {
				s.apply(r)
			}
			if n := len(p.Records); n > 0 {
				s.applied[p.Partition] = p.Records[n-1].Offset + 1
			}
		})
		select {
		case <-sweep.C:
			s.sweep(time.Now())
		default:
		}
		close(s.progress)
		s.progress = make(chan struct{})
		s.mu.Unlock()
	}
}

// apply folds one record into the entries; s.mu is held. Every instance
// applies the same records in the same order, so all agree on the owner
// of a key.
func (s *IdempotencyStore) apply(r *kgo.Record) {
	var v idemRecord
	if r.Value == nil || json.Unmarshal(r.Value, &v) != nil {
		return
	}
	k := string(r.Key[:len(r.Key)-len(v.Claim)])
	e := s.entries[k]
	switch v.State {
	case "claimed":
		if e == nil || s.expired(e, r.Timestamp) {
			s.entries[k] = &idemEntry{claim: v.Claim, fp: v.FP, at: r.Timestamp}
		}
	case "done": // an answer was given: it stands, whoever held the claim
		s.entries[k] = &idemEntry{claim: v.Claim, fp: v.FP, done: true, status: v.Status, body: v.Body, at: r.Timestamp}
	case "released":
		if e != nil && e.claim == v.Claim && !e.done {
			delete(s.entries, k)
		}
	}
}

func (s *IdempotencyStore) expired(e *idemEntry, now time.Time) bool {
	if e.done {
		return now.Sub(e.at) > s.ttl
	}
	return now.Sub(e.at) > s.lease
}

func (s *IdempotencyStore) sweep(now time.Time) {
	for k, e := range s.entries {
		if s.expired(e, now) {
			delete(s.entries, k)
		}
	}
}

// lookup returns a copy of k's live entry, nil when none.
func (s *IdempotencyStore) lookup(k string) *idemEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[k]
	if e == nil || s.expired(e, time.Now()) {
		return nil
	}
	cp := *e
	return &cp
}

// waitApplied waits until partition p is applied through offset.
func (s *IdempotencyStore) waitApplied(ctx context.Context, p int32, offset int64) error {
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

// claim decides whether this request processes k: it returns a claim id
// when it does, else the live entry of the request that does or did.
func (s *IdempotencyStore) claim(ctx context.Context, k, fp string) (string, *idemEntry, error) {
	if e := s.lookup(k); e != nil {
		return "", e, nil
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	r, err := s.write(ctx, k, idemRecord{Claim: id, FP: fp, State: "claimed"})
	if err != nil {
		return "", nil, err
	}
	if err := s.waitApplied(ctx, r.Partition, r.Offset); err != nil {
		return "", nil, err
	}
	e := s.lookup(k)
	switch {
	case e != nil && e.claim == id:
		return id, nil, nil
	case e == nil: // the winner released its claim already
		e = &idemEntry{fp: fp}
	}
	return "", e, nil
}

// complete records the answer of claim; release gives the key up. Both
// return once this instance has applied the record, so that a repeat
// made after the client heard the answer finds it here too.
func (s *IdempotencyStore) complete(ctx context.Context, k, claim, fp string, status int, body []byte) error {
	return s.writeApplied(ctx, k, idemRecord{Claim: claim, FP: fp, State: "done", Status: status, Body: body})
}

func (s *IdempotencyStore) release(ctx context.Context, k, claim, fp string) error {
	return s.writeApplied(ctx, k, idemRecord{Claim: claim, FP: fp, State: "released"})
}

func (s *IdempotencyStore) writeApplied(ctx context.Context, k string, v idemRecord) error {
	r, err := s.write(ctx, k, v)
	if err == nil {
		err = s.waitApplied(ctx, r.Partition, r.Offset)
	}
	return err
}

// write produces v for k to k's partition and waits for the ack.
func (s *IdempotencyStore) write(ctx context.Context, k string, v idemRecord) (*kgo.Record, error) {
	value, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(k))
	rec := &kgo.Record{Topic: IdempotencyTopic, Key: []byte(k + v.Claim), Value: value,
		Partition: int32(h.Sum32() % uint32(s.partitions))}
	r, err := s.cl.ProduceSync(ctx, rec).First()
	if err != nil {
		return nil, fmt.Errorf("httpapi: idempotency: write %s: %w", IdempotencyTopic, err)
	}
	return r, nil
}
