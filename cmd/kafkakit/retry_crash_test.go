package main

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
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

	killAt atomic.Int64                   // kill on this call number (0: never)
	victim atomic.Pointer[process]        // the process to kill
	killed chan struct{}                  // a kill happened; room for one
	onKill atomic.Pointer[func(*process)] // kills
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
			(*h.onKill.Load())(p) // before answering: the call's outcome is lost with the process
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
	const partitions, keysPerPartition, batches, perBatch = 3, 6, 3, 4
	kills := 12
	if testing.Short() {
		kills = 4
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("KAFKAKIT_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (rerun with KAFKAKIT_CRASH_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	// The retry topics exist from the start: the watcher below would
	// otherwise have the broker create them, with one partition.
	c := kafkatest.NewCluster(t, kafkatest.Topic("rc", partitions), kafkatest.Topic("rc-retry-100", partitions),
		kafkatest.Topic("rc-retry-300", partitions), kafkatest.Topic("rc.dlq", partitions))
	hook := &retryCrashHook{seed: seed, calls: map[string]int{}, firsts: map[string][]int{}, succeeded: map[string]bool{},
		killed: make(chan struct{}, 1)}
	kill := func(p *process) {
		p.cmd.Process.Kill()
		select {
		case hook.killed <- struct{}{}:
		default:
		}
	}
	hook.onKill.Store(&kill)
	srv := httptest.NewServer(hook)
	defer srv.Close()

	cl := c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	keys := func(p int) []string {
		var out []string
		for k := range keysPerPartition {
			name := fmt.Sprintf("k%d-%d", p, k)
			if k == 0 {
				name = fmt.Sprintf("p%d", p)
			}
			out = append(out, name)
		}
		return out
	}
	produced := 0
	produce := func(batch int) {
		var recs []*kgo.Record
		for seq := batch * perBatch; seq < (batch+1)*perBatch; seq++ {
			for p := range partitions {
				for _, key := range keys(p) {
					recs = append(recs, &kgo.Record{Topic: "rc", Partition: int32(p), Key: []byte(key), Value: fmt.Appendf(nil, "%s/%d", key, seq)})
				}
			}
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		produced += len(recs)
	}

	env := []string{
		"KAFKA_BROKERS=" + strings.Join(c.Addrs(), ","),
		"KAFKA_CONSUMER_TOPICS=rc",
		"KAFKA_CONSUMER_FROM_BEGINNING=true",
		"KAFKA_HANDLER=webhook",
		"KAFKA_WEBHOOK_URL=" + srv.URL,
		"KAFKA_GROUP_ID=retry-crash",
		"KAFKA_HANDLER_RETRY_MODE=topics",
		"KAFKA_HANDLER_RETRY_DELAYS=100,300",
		"KAFKA_HANDLER_CONCURRENCY=" + strconv.Itoa(1+rng.IntN(2)*3),
		"KAFKA_SESSION_TIMEOUT=1000",
		"KAFKA_HEARTBEAT_INTERVAL=100",
		"KAFKA_MAX_WAIT_TIME=200",
		"HTTP_ADDR=127.0.0.1:0",
		"LOG_LEVEL=warn",
	}
	adm := kadm.NewClient(c.Client(t))
	endOf := func(topic string) int64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ends, err := adm.ListEndOffsets(ctx, topic)
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

	produce(0)
	for k := range kills {
		if k == kills/3 || k == 2*kills/3 {
			produce(produced / (partitions * keysPerPartition * perBatch))
		}
		p := startProcess(t, env, "serve")
		hook.victim.Store(p)
		// Where to kill: on a webhook call, or on a write to a retry
		// topic or to the dead-letter topic. A trigger that does not come
		// within 4s (the work ran out) kills then.
		deadline := time.After(4 * time.Second)
		switch what := rng.IntN(4); what {
		case 0:
			at := 1 + rng.IntN(60)
			hook.mu.Lock()
			hook.killAt.Store(int64(hook.total + at))
			hook.mu.Unlock()
			select {
			case <-hook.killed:
			case <-deadline:
				hook.killAt.Store(0)
				kill(p)
				<-hook.killed
			}
			t.Logf("kill %d: on webhook call +%d", k+1, at)
		default:
			topic := []string{"rc-retry-100", "rc-retry-300", "rc.dlq"}[what-1]
			from := endOf(topic)
			tick := time.NewTicker(2 * time.Millisecond)
		watch:
			for {
				select {
				case <-tick.C:
					if endOf(topic) > from {
						break watch
					}
				case <-deadline:
					break watch
				}
			}
			tick.Stop()
			kill(p)
			<-hook.killed
			t.Logf("kill %d: on a write to %s", k+1, topic)
		}
		<-p.done
	}
	for b := produced / (partitions * keysPerPartition * perBatch); b < batches; b++ {
		produce(b)
	}
	// Every record may have been handled before this process started, so
	// the waits below can end at once; a SIGTERM that came before its main
	// had asked for the signal would end it by the signal's default action.
	// It logs at info (the last value of a variable counts) to say it serves.
	last := startProcess(t, append(slices.Clone(env), "LOG_LEVEL=info"), "serve")
	last.waitLine(t, "http server listening")

	// Every record that can succeed did; every poison record is dead.
	var wantOK []string
	wantDead := map[string]bool{}
	for p := range partitions {
		for _, key := range keys(p) {
			for seq := range batches * perBatch {
				v := fmt.Sprintf("%s/%d", key, seq)
				if poison(key, seq) {
					wantDead[v] = true
				} else {
					wantOK = append(wantOK, v)
				}
			}
		}
	}
	kafkatest.WaitFor(t, 120*time.Second, func() error {
		if d := hook.distinct(); d < len(wantOK) {
			return fmt.Errorf("%d of %d records reached the webhook", d, len(wantOK))
		}
		return nil
	})
	var dead map[string]int
	kafkatest.WaitFor(t, 60*time.Second, func() error {
		dead = map[string]int{}
		for _, r := range c.ReadToEnd(t, "rc.dlq") {
			dead[string(r.Value)]++
		}
		for v := range wantDead {
			if dead[v] == 0 {
				return fmt.Errorf("poison record %s not dead-lettered (%d of %d are)", v, len(dead), len(wantDead))
			}
		}
		return nil
	})
	if code := last.stop(t); code != 0 {
		t.Errorf("last process exited %d", code)
	}

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
		produced, len(wantDead), hook.total, twice, deadTwice, kills)
}
