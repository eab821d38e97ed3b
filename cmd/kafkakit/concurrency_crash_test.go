package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// arrival is one webhook call as the receiver saw it.
type arrival struct {
	key    string
	offset int64
	run    int // which serve process made the call
}

// keyedHook is a webhook on 127.0.0.1 that records every call in arrival
// order and answers 200 after pause(offset), the receiver's own work. Once
// frozen it answers nothing more until thawed: what it acknowledged up to
// then is exactly what the consumer can have finished.
type keyedHook struct {
	pause func(offset int64) time.Duration

	mu        sync.Mutex
	run       int
	arrivals  []arrival
	seen      map[int64]bool // offsets called at least once
	acked     map[int64]bool // offsets answered 200
	firstCall time.Time
	lastAck   time.Time
	inFlight  int
	freezeAt  int           // freeze at the first call that finds this many in flight; 0: never
	frozen    chan struct{} // closed when the receiver froze
	held      chan struct{} // calls wait on it while frozen
	frozenAt  int           // calls in flight when it froze
	badBodies []string
}

func newKeyedHook(t testing.TB, pause func(offset int64) time.Duration) (*keyedHook, string) {
	h := &keyedHook{pause: pause, run: 1, seen: map[int64]bool{}, acked: map[int64]bool{}, frozen: make(chan struct{})}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(h.release) // first: Close waits for the held calls
	return h, srv.URL
}

func (h *keyedHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Key    *string
		Offset int64
		Value  json.RawMessage
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Key == nil ||
		strconv.FormatInt(body.Offset, 10) != string(body.Value) {
		h.mu.Lock()
		h.badBodies = append(h.badBodies, fmt.Sprintf("%v %+v", err, body))
		h.mu.Unlock()
		http.Error(w, "unexpected body", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	if len(h.arrivals) == 0 {
		h.firstCall = time.Now()
	}
	h.arrivals = append(h.arrivals, arrival{key: *body.Key, offset: body.Offset, run: h.run})
	h.seen[body.Offset] = true
	h.inFlight++
	if h.freezeAt > 0 && h.held == nil && h.inFlight >= h.freezeAt {
		h.held = make(chan struct{})
		h.frozenAt = h.inFlight
		close(h.frozen)
	}
	h.mu.Unlock()

	time.Sleep(h.pause(body.Offset)) // the receiver's own work, not synchronisation

	h.mu.Lock()
	h.inFlight--
	if held := h.held; held != nil {
		h.mu.Unlock()
		<-held
		http.Error(w, "receiver was frozen", http.StatusServiceUnavailable)
		return
	}
	h.acked[body.Offset] = true
	h.lastAck = time.Now()
	h.mu.Unlock()
}

// freeze arms the receiver to stop answering at the next call that finds
// inFlight calls running.
func (h *keyedHook) freeze(inFlight int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.freezeAt = inFlight
}

// thaw releases the held calls, which answer 503, and counts further
// calls as the next run's.
func (h *keyedHook) thaw() {
	h.release()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.run++
}

// release lets the held calls answer and stops freezing.
func (h *keyedHook) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held != nil {
		close(h.held)
	}
	h.held, h.freezeAt = nil, 0
}

// distinct returns how many different offsets were delivered.
func (h *keyedHook) distinct() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.seen)
}

// finish waits until n distinct records were delivered, stops p and
// checks the order of first deliveries.
func (h *keyedHook) finish(t testing.TB, p *process, n int, timeout time.Duration) {
	t.Helper()
	waitDistinct(t, timeout, n, h.distinct, "delivered %d of %d distinct records")
	if code := p.stop(t); code != 0 {
		t.Errorf("serve exited %d", code)
	}
	h.checkFirstDeliveryOrder(t)
}

// checkFirstDeliveryOrder fails the test unless, for every key, the
// first delivery of each of its records came in offset order, and no
// body was malformed.
func (h *keyedHook) checkFirstDeliveryOrder(t testing.TB) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.badBodies) > 0 {
		t.Errorf("%d unexpected bodies, first %s", len(h.badBodies), h.badBodies[0])
	}
	seen := map[int64]bool{}
	firsts := map[string][]int64{}
	for _, a := range h.arrivals {
		if !seen[a.offset] {
			seen[a.offset] = true
			firsts[a.key] = append(firsts[a.key], a.offset)
		}
	}
	bad := 0
	for key, offs := range firsts {
		if !slices.IsSorted(offs) {
			if bad++; bad <= 5 {
				t.Errorf("key %s: first deliveries out of order: %v", key, offs)
			}
		}
	}
}

// keyedRecords returns n records for topic's partition 0 with keys
// k0000... cycling over keys, each value its sequence number (its offset
// on an empty partition).
func keyedRecords(topic string, from, n, keys int) []*kgo.Record {
	recs := make([]*kgo.Record, n)
	for i := range recs {
		seq := from + i
		recs[i] = &kgo.Record{Topic: topic, Partition: 0, Key: fmt.Appendf(nil, "k%04d", seq%keys),
			Value: strconv.AppendInt(nil, int64(seq), 10)}
	}
	return recs
}

// keyedServeEnv is the environment of a serve process consuming topic
// work from its start into the webhook at url.
func keyedServeEnv(c *kafkatest.Cluster, url string, concurrency int) []string {
	return webhookServeEnv(c, "work", url,
		"KAFKA_CONSUMER_FROM_BEGINNING=true",
		"KAFKA_HANDLER_CONCURRENCY="+strconv.Itoa(concurrency))
}

// committedOffset returns the group's committed offset of topic's
// partition 0, or -1 if it has none.
func committedOffset(ctx context.Context, adm *kadm.Client, group, topic string) (int64, error) {
	offs, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = offs.Error()
	}
	if err != nil {
		return 0, err
	}
	if o, ok := offs.Lookup(topic, 0); ok {
		return o.At, nil
	}
	return -1, nil
}

// TestKeyConcurrencySIGKILL runs `kafkakit serve` with
// KAFKA_HANDLER_CONCURRENCY=100 on one partition of 6,000 records over
// 1,000 keys, delivering to a webhook that takes 100 ms a call, and 1 s
// on every 50th record, so that other keys run ahead of it. Once the
// group has committed and 100 calls are running, the webhook stops
// answering and the process is killed with SIGKILL. Then the committed
// offset must not pass the first record the webhook had not
// acknowledged, and after a restart every record is delivered at least
// once, every unacknowledged one again, and each key's first deliveries
// are in offset order.
func TestKeyConcurrencySIGKILL(t *testing.T) {
	kafkatest.Parallel(t)
	sigkillTest(t)
	const n, keys, concurrency, group = 6000, 1000, 100, "key-concurrency-crash"
	c := kafkatest.NewCluster(t, kafkatest.Topic("work", 1))
	c.Produce(t, keyedRecords("work", 0, n, keys)...)
	hook, url := newKeyedHook(t, func(offset int64) time.Duration {
		if offset%50 == 7 {
			return time.Second
		}
		return 100 * time.Millisecond
	})
	adm := kadm.NewClient(c.Client(t))

	env := append(keyedServeEnv(c, url, concurrency), "KAFKA_GROUP_ID="+group)
	env = append(env, quickTakeover...)
	first := startProcess(t, env, "serve")
	// Kill only once a few commits went by, so that the check below has
	// a commit to look at, with holes behind the slow records.
	kafkatest.WaitFor(t, 120*time.Second, func() error {
		at, err := committedOffset(t.Context(), adm, group, "work")
		if err != nil {
			return err
		}
		if at < 300 {
			return fmt.Errorf("committed %d; %d distinct delivered", at, hook.distinct())
		}
		return nil
	})
	hook.freeze(concurrency)
	select {
	case <-hook.frozen:
	case <-time.After(120 * time.Second):
		t.Fatalf("never %d calls in flight; %d distinct delivered", concurrency, hook.distinct())
	}
	first.kill(t)
	ackedAtKill := hook.checkCommitBehindAcks(t, adm, group, n)

	hook.thaw()
	hook.finish(t, startProcess(t, env, "serve"), n, 180*time.Second)
	hook.checkRedelivered(t, ackedAtKill, n)
}

// checkCommitBehindAcks fails the test if group's committed offset is past
// the first of the n records that the frozen webhook had not acknowledged
// at the kill, or if it had acknowledged them all, and returns the
// offsets it had acknowledged.
func (h *keyedHook) checkCommitBehindAcks(t *testing.T, adm *kadm.Client, group string, n int) map[int64]bool {
	t.Helper()
	h.mu.Lock()
	ackedAtKill := maps.Clone(h.acked)
	inFlight := h.frozenAt
	h.mu.Unlock()
	firstUnacked := int64(n)
	for off := range int64(n) {
		if !ackedAtKill[off] {
			firstUnacked = off
			break
		}
	}
	acked := len(ackedAtKill)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	committed, err := committedOffset(ctx, adm, group, "work")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed with %d calls in flight, %d acknowledged (up to offset %d), first unacknowledged offset %d, committed %d",
		inFlight, acked, slices.Max(slices.Collect(maps.Keys(ackedAtKill))), firstUnacked, committed)
	if committed > firstUnacked {
		t.Fatalf("committed offset %d is past offset %d, which the webhook never acknowledged", committed, firstUnacked)
	}
	if acked >= n {
		t.Fatal("every record was acknowledged before the kill: nothing was tested")
	}
	return ackedAtKill
}

// checkRedelivered fails the test unless every one of the n records that
// was not in ackedAtKill was delivered again by the restarted process.
func (h *keyedHook) checkRedelivered(t *testing.T, ackedAtKill map[int64]bool, n int) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	again := map[int64]bool{}
	for _, a := range h.arrivals {
		if a.run == 2 {
			again[a.offset] = true
		}
	}
	// The held calls were answered 503, so a record unacknowledged at
	// the kill that was not delivered after it was lost.
	var missed []int64
	for off := range int64(n) {
		if !ackedAtKill[off] && !again[off] {
			missed = append(missed, off)
		}
	}
	if len(missed) > 0 {
		t.Errorf("%d records unacknowledged at the kill were not delivered after it, first %v", len(missed), missed[:min(10, len(missed))])
	}
	t.Logf("%d records, %d calls, %d redelivered after the restart", n, len(h.arrivals), len(again))
}
