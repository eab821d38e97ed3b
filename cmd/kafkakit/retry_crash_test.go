package main

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// retryCrashHook is the webhook of TestRetryPathSurvivesRandomSIGKILLs:
// poison records fail every call, a seeded share of the others fail their
// first call; it records, per key, the sequence numbers first answered
// 200, in order, and can SIGKILL the serving process on a chosen call.
type retryCrashHook struct {
	seed uint64

	mu        sync.Mutex
	calls     map[string]int   // value -> calls
	firsts    map[string][]int // key -> sequence numbers first answered 200, in order
	succeeded map[string]bool  // value -> answered 200 once
	total     int              // calls

	killAt atomic.Int64            // kill on this call number (0: never)
	victim atomic.Pointer[process] // the process to kill
	killed chan struct{}           // a kill happened; room for one
}

// poison reports whether value (key/seq) fails every call: every fourth
// record of the keys p0, p1 and p2.
func poison(key string, seq int) bool { return strings.HasPrefix(key, "p") && seq%4 == 1 }

func (h *retryCrashHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Value string `json:"value"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	key, seqStr, _ := strings.Cut(body.Value, "/")
	seq, err := strconv.Atoi(seqStr)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.total++
	h.calls[body.Value]++
	call, n := h.total, h.calls[body.Value]
	h.mu.Unlock()
	if at := h.killAt.Load(); at != 0 && int64(call) >= at && h.killAt.CompareAndSwap(at, 0) {
		if p := h.victim.Load(); p != nil {
			h.kill(p) // before answering: the call's outcome is lost with the process
		}
	}
	hash := fnv.New64a()
	fmt.Fprint(hash, h.seed, body.Value)
	if poison(key, seq) || (n == 1 && hash.Sum64()%4 == 0) {
		http.Error(w, "failing", http.StatusInternalServerError)
		return
	}
	h.mu.Lock()
	if !h.succeeded[body.Value] {
		h.succeeded[body.Value] = true
		h.firsts[key] = append(h.firsts[key], seq)
	}
	h.mu.Unlock()
}

// kill SIGKILLs p and says so on killed, without waiting for p to end:
// it may run on a webhook call, which p's end would cut short.
func (h *retryCrashHook) kill(p *process) {
	p.cmd.Process.Kill()
	select {
	case h.killed <- struct{}{}:
	default:
	}
}

func (h *retryCrashHook) distinct() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.succeeded)
}

// TestRetryPathSurvivesRandomSIGKILLs runs `kafkakit serve` in retry-topics
// mode over keys with poison records and records that fail once, and
// SIGKILLs it again and again at seeded random points of the retry path:
// on a chosen webhook call, before it is answered, or as soon as a record
// lands in a chosen retry topic or in the dead-letter topic, before its
// source is committed. A new process takes over each time. In the end
// every record that can succeed reached the webhook, each key's records
// first succeeded in produce order, no key is parked, and every poison
// record is in the dead-letter topic once or more. The seed is logged;
// with -short there are fewer kills.
func TestRetryPathSurvivesRandomSIGKILLs(t *testing.T) {
	kafkatest.Parallel(t)
	kills := 12
	if testing.Short() {
		kills = 4
	}
	r := newRetryCrash(t, crashSeed(t))
	r.produce(0)
	for k := range kills {
		if k == kills/3 || k == 2*kills/3 {
			r.produce(r.nextBatch())
		}
		r.killSomewhere(k)
	}
	for b := r.nextBatch(); b < retryCrashBatches; b++ {
		r.produce(b)
	}
	// Every record may have been handled before this process started, so
	// the waits below can end at once; a SIGTERM that came before its main
	// had asked for the signal would end it by the signal's default action.
	// It logs at info (the last value of a variable counts) to say it serves.
	last := startProcess(t, append(slices.Clone(r.env), "LOG_LEVEL=info"), "serve")
	last.waitLine(t, "http server listening")

	// Every record that can succeed did; every poison record is dead.
	canSucceed, wantDead := retryCrashWants()
	waitDistinct(t, 120*time.Second, canSucceed, r.hook.distinct, "%d of %d records reached the webhook")
	dead := r.waitDeadLettered(wantDead)
	if code := last.stop(t); code != 0 {
		t.Errorf("last process exited %d", code)
	}
	r.report(dead, wantDead, kills)
}

// The records of TestRetryPathSurvivesRandomSIGKILLs: on each partition a
// poison key and five others, each with batches*perBatch records,
// produced a batch at a time.
const (
	retryCrashPartitions       = 3
	retryCrashKeysPerPartition = 6
	retryCrashBatches          = 3
	retryCrashPerBatch         = 4
)

// retryCrash is the state the phases of TestRetryPathSurvivesRandomSIGKILLs
// share.
type retryCrash struct {
	t        *testing.T
	c        *kafkatest.Cluster
	hook     *retryCrashHook
	cl       *kgo.Client // produces to the partition each record names
	adm      *kadm.Client
	rng      *rand.Rand
	env      []string
	produced int // records produced so far
}

// crashSeed is KAFKAKIT_CRASH_SEED, or else the clock; it is logged so
// that a failing run can be repeated.
func crashSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("KAFKAKIT_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("KAFKAKIT_CRASH_SEED %q: want a whole number from 0 to %d", s, uint64(math.MaxUint64))
		}
	}
	t.Logf("seed %d (rerun with KAFKAKIT_CRASH_SEED=%d)", seed, seed)
	return seed
}

// newRetryCrash starts the cluster and the webhook, and draws the
// handler concurrency of every serve process from seed.
func newRetryCrash(t *testing.T, seed uint64) *retryCrash {
	rng := rand.New(rand.NewPCG(seed, 0))
	// The retry topics exist from the start: the watcher below would
	// otherwise have the broker create them, with one partition.
	c := kafkatest.NewCluster(t, kafkatest.Topic("rc", retryCrashPartitions), kafkatest.Topic("rc-retry-100", retryCrashPartitions),
		kafkatest.Topic("rc-retry-300", retryCrashPartitions), kafkatest.Topic("rc.dlq", retryCrashPartitions))
	hook := &retryCrashHook{seed: seed, calls: map[string]int{}, firsts: map[string][]int{}, succeeded: map[string]bool{},
		killed: make(chan struct{}, 1)}
	srv := httptest.NewServer(hook)
	t.Cleanup(srv.Close)
	env := append(webhookServeEnv(c, "rc", srv.URL,
		"KAFKA_CONSUMER_FROM_BEGINNING=true",
		"KAFKA_GROUP_ID=retry-crash",
		"KAFKA_HANDLER_RETRY_MODE=topics",
		"KAFKA_HANDLER_RETRY_DELAYS=100,300",
		"KAFKA_HANDLER_CONCURRENCY="+strconv.Itoa(1+rng.IntN(2)*3),
	), quickTakeover...)
	return &retryCrash{t: t, c: c, hook: hook, cl: c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner())),
		adm: kadm.NewClient(c.Client(t)), rng: rng, env: env}
}

// retryCrashKeys is partition p's keys: the poison key p<p> first.
func retryCrashKeys(p int) []string {
	var out []string
	for k := range retryCrashKeysPerPartition {
		name := fmt.Sprintf("k%d-%d", p, k)
		if k == 0 {
			name = fmt.Sprintf("p%d", p)
		}
		out = append(out, name)
	}
	return out
}

// produce writes batch: each key's next perBatch records, valued
// key/sequence number.
func (r *retryCrash) produce(batch int) {
	r.t.Helper()
	var recs []*kgo.Record
	for seq := batch * retryCrashPerBatch; seq < (batch+1)*retryCrashPerBatch; seq++ {
		for p := range retryCrashPartitions {
			for _, key := range retryCrashKeys(p) {
				recs = append(recs, &kgo.Record{Topic: "rc", Partition: int32(p), Key: []byte(key), Value: fmt.Appendf(nil, "%s/%d", key, seq)})
			}
		}
	}
	if err := r.cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		r.t.Fatal(err)
	}
	r.produced += len(recs)
}

// nextBatch is the number of the first batch not produced yet.
func (r *retryCrash) nextBatch() int {
	return r.produced / (retryCrashPartitions * retryCrashKeysPerPartition * retryCrashPerBatch)
}

// endOf is the sum of topic's end offsets, -1 when they cannot be listed:
// it is polled, and a failed listing only means "not yet".
func (r *retryCrash) endOf(topic string) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ends, err := r.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return -1
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			n += o.Offset
		}
	})
	return n
}

// killSomewhere starts a serve process and SIGKILLs it at a random point:
// on a webhook call, or on a write to a retry topic or to the dead-letter
// topic. A trigger that does not come within 4s (the work ran out) kills
// then.
func (r *retryCrash) killSomewhere(k int) {
	r.t.Helper()
	p := startProcess(r.t, r.env, "serve")
	r.hook.victim.Store(p)
	deadline := time.After(4 * time.Second)
	if what := r.rng.IntN(4); what == 0 {
		at := r.killOnWebhookCall(p, deadline)
		r.t.Logf("kill %d: on webhook call +%d", k+1, at)
	} else {
		topic := []string{"rc-retry-100", "rc-retry-300", "rc.dlq"}[what-1]
		r.waitForWrite(topic, deadline)
		r.hook.kill(p)
		<-r.hook.killed
		r.t.Logf("kill %d: on a write to %s", k+1, topic)
	}
	<-p.done
}

// killOnWebhookCall has the webhook kill p on a random call among the
// next 60, or kills p at deadline, and returns how many calls ahead the
// kill was set.
func (r *retryCrash) killOnWebhookCall(p *process, deadline <-chan time.Time) int {
	at := 1 + r.rng.IntN(60)
	r.hook.mu.Lock()
	r.hook.killAt.Store(int64(r.hook.total + at))
	r.hook.mu.Unlock()
	select {
	case <-r.hook.killed:
	case <-deadline:
		r.hook.killAt.Store(0)
		r.hook.kill(p)
		<-r.hook.killed
	}
	return at
}

// waitForWrite returns once topic has grown, or at deadline.
func (r *retryCrash) waitForWrite(topic string, deadline <-chan time.Time) {
	from := r.endOf(topic)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if r.endOf(topic) > from {
				return
			}
		case <-deadline:
			return
		}
	}
}

// retryCrashWants returns how many records can succeed and which are
// poison, so must end in the dead-letter topic.
func retryCrashWants() (canSucceed int, wantDead map[string]bool) {
	wantDead = map[string]bool{}
	for p := range retryCrashPartitions {
		for _, key := range retryCrashKeys(p) {
			for seq := range retryCrashBatches * retryCrashPerBatch {
				if poison(key, seq) {
					wantDead[fmt.Sprintf("%s/%d", key, seq)] = true
				} else {
					canSucceed++
				}
			}
		}
	}
	return canSucceed, wantDead
}

// waitDeadLettered waits until every record of wantDead is in the
// dead-letter topic, and returns how many times each value is there.
func (r *retryCrash) waitDeadLettered(wantDead map[string]bool) map[string]int {
	r.t.Helper()
	var dead map[string]int
	kafkatest.WaitFor(r.t, 60*time.Second, func() error {
		dead = map[string]int{}
		for _, rec := range r.c.ReadToEnd(r.t, "rc.dlq") {
			dead[string(rec.Value)]++
		}
		for v := range wantDead {
			if dead[v] == 0 {
				return fmt.Errorf("poison record %s not dead-lettered (%d of %d are)", v, len(dead), len(wantDead))
			}
		}
		return nil
	})
	return dead
}

// report fails the test if a key's records first succeeded out of
// produce order, and logs what the kills cost: calls, records called more
// than once, poison records dead-lettered more than once.
func (r *retryCrash) report(dead map[string]int, wantDead map[string]bool, kills int) {
	t, hook := r.t, r.hook
	t.Helper()
	hook.mu.Lock()
	defer hook.mu.Unlock()
	for key, seqs := range hook.firsts {
		for i := 1; i < len(seqs); i++ {
			if seqs[i] < seqs[i-1] {
				t.Errorf("key %s: records first succeeded in order %v", key, seqs)
				break
			}
		}
	}
	twice, deadTwice := 0, 0
	for v, n := range hook.calls {
		if n > 1 && !wantDead[v] {
			twice++
		}
	}
	for _, n := range dead {
		if n > 1 {
			deadTwice++
		}
	}
	t.Logf("%d records, %d poison; %d webhook calls; %d records called more than once; %d poison records dead-lettered more than once; %d SIGKILLs",
		r.produced, len(wantDead), hook.total, twice, deadTwice, kills)
}
