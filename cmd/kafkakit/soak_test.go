package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// soakHook is the soak's webhook: it answers 500 on 1% of calls, hangs 3s
// on 0.2%, fails poison records every time, and logs, per key, the
// sequence numbers first answered 200, and per partition when and by which
// member (its webhook path) records were delivered.
type soakHook struct {
	mu        sync.Mutex
	rng       *rand.Rand
	firsts    map[string][]int // key -> sequence numbers first answered 200, in order
	succeeded map[string]int   // value -> times answered 200
	at        map[int32][]time.Time
	by        map[int32][]string // partition -> member of each delivery, beside at
	first     map[string]time.Time
	calls     int
}

// soakPoison: every tenth record of the keys p0 to p4 fails every call.
func soakPoison(key string, seq int) bool { return strings.HasPrefix(key, "p") && seq%10 == 3 }

func (h *soakHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Value     string `json:"value"`
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
	member := strings.TrimPrefix(r.URL.Path, "/")
	h.mu.Lock()
	h.calls++
	dice := h.rng.IntN(1000)
	h.mu.Unlock()
	switch {
	case soakPoison(key, seq) || dice < 10:
		http.Error(w, "failing", http.StatusInternalServerError)
		return
	case dice < 12:
		select { // a hang, as a slow receiver has
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
			return
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now() // under the lock: each partition's times stay sorted
	if h.succeeded[body.Value] == 0 {
		h.firsts[key] = append(h.firsts[key], seq)
	}
	h.succeeded[body.Value]++
	if !strings.Contains(body.Topic, "-retry-") {
		h.at[body.Partition] = append(h.at[body.Partition], now)
		h.by[body.Partition] = append(h.by[body.Partition], member)
	}
	if _, ok := h.first[member]; !ok {
		h.first[member] = now
	}
}

// owner is the member that delivered partition p last before t.
func (h *soakHook) owner(p int32, t time.Time) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	i, _ := slices.BinarySearchFunc(h.at[p], t, func(a, b time.Time) int { return a.Compare(b) })
	if i == 0 {
		return ""
	}
	return h.by[p][i-1]
}

// gap is the longest time without a delivery on p within [from, to],
// counted from from.
func (h *soakHook) gap(p int32, from, to time.Time) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	var longest time.Duration
	prev := from
	for _, at := range h.at[p] {
		if at.Before(from) {
			continue
		}
		if at.After(to) {
			break
		}
		longest = max(longest, at.Sub(prev))
		prev = at
	}
	return max(longest, to.Sub(prev))
}

// TestSoakRetryTopics is the retry-topics soak: a kfake broker in its own
// process (`serve --embedded`), three `serve` processes in one group on 12
// partitions with KAFKA_HANDLER_CONCURRENCY=16 and retry topics of 100 and
// 500 ms, a webhook that answers 500 on 1% of calls and hangs 3 s on 0.2%,
// five keys with poison records, records produced at a steady rate, one
// `serve` SIGKILLed every 60 s and restarted 5 s later, the broker frozen
// (SIGSTOP) for 3 s every 90 s. Then it reads back what Kafka and the
// webhook hold and reports: acknowledged records lost, records that never
// reached the webhook or the dead-letter topic, per-key order violations,
// poison records in the dead-letter topic, duplicates, the longest pause
// of partitions not owned by a killed member, and restart to first
// delivery. It runs only with KAFKAKIT_SOAK set to its duration (15m for
// the figures in the README); KAFKAKIT_SOAK_RATE sets records per second
// (default 1150).
func TestSoakRetryTopics(t *testing.T) {
	spec := os.Getenv("KAFKAKIT_SOAK")
	if spec == "" {
		t.Skip("set KAFKAKIT_SOAK to a duration to run the soak")
	}
	duration, err := time.ParseDuration(spec)
	if err != nil {
		t.Fatalf("KAFKAKIT_SOAK: %v", err)
	}
	rate := 1150
	if v := os.Getenv("KAFKAKIT_SOAK_RATE"); v != "" {
		if rate, err = strconv.Atoi(v); err != nil || rate < 1 {
			t.Fatalf("KAFKAKIT_SOAK_RATE %q: want a positive whole number", v)
		}
	}
	const partitions, keys, members = 12, 2000, 3
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %v at %d records/s", seed, duration, rate)
	rng := rand.New(rand.NewPCG(seed, 1))

	// Without the race detector: the soak measures the service as shipped.
	bin := filepath.Join(t.TempDir(), "kafkakit")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	brokerAddr := ln.Addr().String()
	ln.Close()
	broker := startBinary(t, bin, []string{"KAFKA_EMBEDDED_ADDR=" + brokerAddr, "HTTP_ADDR=127.0.0.1:0", "LOG_LEVEL=warn"}, "serve", "--embedded")
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokerAddr), kgo.ProducerLinger(5*time.Millisecond),
		kgo.RecordRetries(1000), kgo.RecordDeliveryTimeout(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), duration+20*time.Minute)
	defer cancel()
	for deadline := time.Now().Add(60 * time.Second); ; {
		if _, err = adm.CreateTopics(ctx, partitions, 1, nil, "soak", "soak-retry-100", "soak-retry-500", "soak.dlq"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the broker did not come up: %v", err)
		}
		select { // the broker is starting
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}

	hook := &soakHook{rng: rand.New(rand.NewPCG(seed, 2)), firsts: map[string][]int{}, succeeded: map[string]int{},
		at: map[int32][]time.Time{}, by: map[int32][]string{}, first: map[string]time.Time{}}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	env := func(member string) []string {
		return []string{
			"KAFKA_BROKERS=" + brokerAddr,
			"KAFKA_CONSUMER_TOPICS=soak",
			"KAFKA_CONSUMER_FROM_BEGINNING=true",
			"KAFKA_HANDLER=webhook",
			"KAFKA_WEBHOOK_URL=" + srv.URL + "/" + member,
			"KAFKA_GROUP_ID=soak",
			"KAFKA_HANDLER_CONCURRENCY=16",
			"KAFKA_HANDLER_RETRY_MODE=topics",
			"KAFKA_HANDLER_RETRY_DELAYS=100,500",
			"KAFKA_SESSION_TIMEOUT=10000",
			"KAFKA_HEARTBEAT_INTERVAL=1000",
			"HTTP_ADDR=127.0.0.1:0",
			"LOG_LEVEL=warn",
		}
	}
	var procMu sync.Mutex
	procs := make([]*process, members)
	names := make([]string, members)
	started := map[string]time.Time{}
	for i := range members {
		names[i] = fmt.Sprintf("m%d", i)
		procs[i] = startBinary(t, bin, env(names[i]), "serve")
		started[names[i]] = time.Now()
	}

	// The load: keyed records at rate, each key's sequence numbers in
	// order; only acknowledged ones are expected.
	var acked sync.Map // value -> true
	var ackedN, failedN atomic.Int64
	loadCtx, stopLoad := context.WithTimeout(ctx, duration)
	defer stopLoad()
	var load sync.WaitGroup
	var loadEnd time.Time
	load.Go(func() {
		defer func() { loadEnd = time.Now() }()
		seqs := make([]int, keys)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		begin := time.Now()
		sent := 0
		for {
			select {
			case <-loadCtx.Done():
				return
			case now := <-tick.C:
				due := int(now.Sub(begin).Seconds() * float64(rate))
				for ; sent < due; sent++ {
					k := sent % keys
					key := fmt.Sprintf("k%d", k)
					if k < 5 {
						key = fmt.Sprintf("p%d", k)
					}
					v := fmt.Sprintf("%s/%d", key, seqs[k])
					seqs[k]++
					cl.Produce(ctx, &kgo.Record{Topic: "soak", Key: []byte(key), Value: []byte(v)}, func(_ *kgo.Record, err error) {
						if err != nil {
							failedN.Add(1)
							return
						}
						acked.Store(v, true)
						ackedN.Add(1)
					})
				}
			}
		}
	})

	// The faults: a SIGKILL every 60s (restart 5s later), a 3s broker
	// freeze every 90s.
	type kill struct {
		at      time.Time
		victim  string
		restart string
	}
	var kills []kill
	var faults sync.WaitGroup
	faults.Go(func() {
		killTick, freezeTick := time.NewTicker(60*time.Second), time.NewTicker(90*time.Second)
		defer killTick.Stop()
		defer freezeTick.Stop()
		for n := members; ; n++ {
			select {
			case <-loadCtx.Done():
				return
			case <-freezeTick.C:
				broker.cmd.Process.Signal(syscall.SIGSTOP)
				select {
				case <-time.After(3 * time.Second):
				case <-ctx.Done():
				}
				broker.cmd.Process.Signal(syscall.SIGCONT)
				t.Logf("broker frozen 3s at +%v", time.Since(started["m0"]).Round(time.Second))
			case <-killTick.C:
				i := rng.IntN(members)
				procMu.Lock()
				victim := procs[i]
				procMu.Unlock()
				k := kill{at: time.Now(), victim: names[i]}
				victim.cmd.Process.Kill()
				<-victim.done
				select {
				case <-time.After(5 * time.Second):
				case <-ctx.Done():
					return
				}
				name := fmt.Sprintf("m%d", n)
				p := startBinary(t, bin, env(name), "serve")
				procMu.Lock()
				procs[i], names[i], started[name] = p, name, time.Now()
				k.restart = name
				kills = append(kills, k)
				procMu.Unlock()
				t.Logf("SIGKILL of %s at +%v, restarted as %s", k.victim, time.Since(started["m0"]).Round(time.Second), name)
			}
		}
	})
	load.Wait()
	faults.Wait()
	if err := cl.Flush(ctx); err != nil {
		t.Errorf("flush: %v", err)
	}
	t.Logf("load done: %d acknowledged, %d not", ackedN.Load(), failedN.Load())

	// Drain: every acknowledged record succeeded or is dead.
	var expectOK, expectDead []string
	acked.Range(func(k, _ any) bool {
		v := k.(string)
		key, seqStr, _ := strings.Cut(v, "/")
		seq, _ := strconv.Atoi(seqStr)
		if soakPoison(key, seq) {
			expectDead = append(expectDead, v)
		} else {
			expectOK = append(expectOK, v)
		}
		return true
	})
	readAll := func(topic string) map[string]int {
		out := map[string]int{}
		rc, err := kgo.NewClient(kgo.SeedBrokers(brokerAddr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
		logged := 0
		for n := int64(0); n < total; {
			rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
			fs := rc.PollFetches(rctx)
			timedOut := rctx.Err() != nil
			rcancel()
			if timedOut {
				t.Errorf("reading %s: %d of %d records", topic, n, total)
				break
			}
			fs.EachError(func(topic string, p int32, err error) {
				if logged++; logged <= 3 {
					t.Logf("reading %s partition %d: %v", topic, p, err)
				}
			})
			fs.EachRecord(func(r *kgo.Record) {
				out[string(r.Value)]++
				n++
			})
		}
		return out
	}
	drainStart := time.Now()
	var dead map[string]int
	for {
		// A record that is not poison may still fail all three calls (1%
		// each, so about one in a million) and be dead-lettered.
		dead = readAll("soak.dlq")
		hook.mu.Lock()
		missing := 0
		for _, v := range expectOK {
			if hook.succeeded[v] == 0 && dead[v] == 0 {
				missing++
			}
		}
		hook.mu.Unlock()
		deadMissing := 0
		for _, v := range expectDead {
			if dead[v] == 0 {
				deadMissing++
			}
		}
		if missing == 0 && deadMissing == 0 {
			break
		}
		if time.Since(drainStart) > 5*time.Minute {
			t.Errorf("after 5 minutes of draining: %d records never reached the webhook, %d poison records not dead-lettered", missing, deadMissing)
			break
		}
		select { // the group drains the backlog
		case <-time.After(5 * time.Second):
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	t.Logf("drained %v after the load", time.Since(drainStart).Round(time.Second))

	// Lost: acknowledged and not in the topic.
	inTopic := readAll("soak")
	lost := 0
	for _, v := range slices.Concat(expectOK, expectDead) {
		if inTopic[v] == 0 {
			lost++
		}
	}
	hook.mu.Lock()
	never, orderViolations, duplicates, unlucky := 0, 0, 0, 0
	for _, v := range expectOK {
		switch {
		case hook.succeeded[v] == 0 && dead[v] == 0:
			never++
		case hook.succeeded[v] == 0:
			unlucky++ // failed all three calls, as 1% of calls do
		}
		duplicates += max(hook.succeeded[v]-1, 0)
	}
	for key, seqs := range hook.firsts {
		for i := 1; i < len(seqs); i++ {
			if seqs[i] < seqs[i-1] {
				orderViolations++
				if orderViolations <= 5 {
					t.Errorf("key %s: first successes out of order at %d after %d", key, seqs[i], seqs[i-1])
				}
			}
		}
	}
	deadOK, deadDup := 0, 0
	for _, v := range expectDead {
		if dead[v] > 0 {
			deadOK++
		}
		deadDup += max(dead[v]-1, 0)
	}
	calls := hook.calls
	hook.mu.Unlock()

	// Pauses: per kill, the partitions another member delivered just
	// before it, over the 30s after it; kills too close to the end of the
	// load, which stops deliveries, are not counted.
	var otherPause, victimPause, toReady time.Duration
	for _, k := range kills {
		if k.at.Add(30 * time.Second).After(loadEnd) {
			continue
		}
		for p := range int32(partitions) {
			g := hook.gap(p, k.at, k.at.Add(30*time.Second))
			if hook.owner(p, k.at) == k.victim {
				victimPause = max(victimPause, g)
			} else {
				otherPause = max(otherPause, g)
			}
		}
		hook.mu.Lock()
		if first, ok := hook.first[k.restart]; ok {
			toReady = max(toReady, first.Sub(started[k.restart]))
		}
		hook.mu.Unlock()
	}
	t.Logf("soak %v at %d/s: %d acknowledged, %d lost, %d never reached the webhook or the dead-letter topic, %d per-key order violations, %d/%d poison records dead-lettered (%d extra copies), %d other records dead-lettered after failing every call, %d duplicate deliveries, %d webhook calls; %d SIGKILLs: other members' partitions paused at most %v, the killed member's %v; restart to first delivery at most %v",
		duration, rate, ackedN.Load(), lost, never, orderViolations, deadOK, len(expectDead), deadDup, unlucky, duplicates, calls,
		len(kills), otherPause.Round(time.Millisecond), victimPause.Round(time.Millisecond), toReady.Round(time.Millisecond))
	if lost > 0 || never > 0 || orderViolations > 0 || deadOK < len(expectDead) {
		t.Errorf("soak failed: %d lost, %d never delivered, %d order violations, %d of %d poison records dead-lettered", lost, never, orderViolations, deadOK, len(expectDead))
	}
	for _, p := range procs {
		if p.cmd.ProcessState == nil {
			p.stop(t)
		}
	}
	broker.stop(t)
}
