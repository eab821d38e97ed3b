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
	duration, rate := soakSettings(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %v at %d records/s", seed, duration, rate)
	s := startSoak(t, duration, rate, seed)
	s.startMembers()

	loadCtx, stopLoad := context.WithTimeout(s.ctx, duration)
	defer stopLoad()
	var load, faults sync.WaitGroup
	load.Go(func() { s.produce(loadCtx) })
	faults.Go(func() { s.injectFaults(loadCtx) })
	load.Wait()
	faults.Wait()
	if err := s.cl.Flush(s.ctx); err != nil {
		t.Errorf("flush: %v", err)
	}
	t.Logf("load done: %d acknowledged, %d not", s.ackedN.Load(), s.failedN.Load())

	expectOK, expectDead := s.expected()
	dead := s.drain(expectOK, expectDead)
	s.report(expectOK, expectDead, dead)
	for _, p := range s.procs {
		if p.cmd.ProcessState == nil {
			p.stop(t)
		}
	}
	s.broker.stop(t)
}

// The soak's shape: partitions of each topic, keys of the load (k0 to
// k1999, the first five named p0 to p4 and carrying poison records), and
// `serve` members in the group.
const soakPartitions, soakKeys, soakMembers = 12, 2000, 3

// soakKill is one SIGKILL of the fault schedule: when, which member, and
// the name of the member restarted in its place.
type soakKill struct {
	at      time.Time
	victim  string
	restart string
}

// soak is the state the soak's phases share. While the load runs, the
// fault goroutine is the only writer of procs, names, started and kills,
// and the load goroutine of loadEnd; the test goroutine reads them after
// waiting for both.
type soak struct {
	t          *testing.T
	duration   time.Duration
	rate       int
	rng        *rand.Rand // picks the member each SIGKILL hits
	bin        string
	brokerAddr string
	broker     *process
	cl         *kgo.Client
	adm        *kadm.Client
	ctx        context.Context
	hook       *soakHook
	hookURL    string

	procMu  sync.Mutex
	procs   []*process
	names   []string
	started map[string]time.Time // member -> when it was started
	kills   []soakKill

	acked           sync.Map // value -> true
	ackedN, failedN atomic.Int64
	loadEnd         time.Time
}

// soakSettings reads KAFKAKIT_SOAK and KAFKAKIT_SOAK_RATE, skipping the
// test when the first is not set.
func soakSettings(t *testing.T) (duration time.Duration, rate int) {
	t.Helper()
	spec := os.Getenv("KAFKAKIT_SOAK")
	if spec == "" {
		t.Skip("set KAFKAKIT_SOAK to a duration to run the soak")
	}
	duration, err := time.ParseDuration(spec)
	if err != nil {
		t.Fatalf("KAFKAKIT_SOAK: %v", err)
	}
	rate = 1150
	if v := os.Getenv("KAFKAKIT_SOAK_RATE"); v != "" {
		if rate, err = strconv.Atoi(v); err != nil || rate < 1 {
			t.Fatalf("KAFKAKIT_SOAK_RATE %q: want a positive whole number", v)
		}
	}
	return duration, rate
}

// startSoak builds the binary, starts the broker process with the soak's
// topics, the producing client and the webhook; the members come after.
func startSoak(t *testing.T, duration time.Duration, rate int, seed uint64) *soak {
	t.Helper()
	s := &soak{t: t, duration: duration, rate: rate, rng: rand.New(rand.NewPCG(seed, 1)),
		procs: make([]*process, soakMembers), names: make([]string, soakMembers), started: map[string]time.Time{}}
	// Without the race detector: the soak measures the service as shipped.
	s.bin = filepath.Join(t.TempDir(), "kafkakit")
	if out, err := exec.Command("go", "build", "-o", s.bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.brokerAddr = ln.Addr().String()
	ln.Close()
	s.broker = startBinary(t, s.bin, []string{"KAFKA_EMBEDDED_ADDR=" + s.brokerAddr, "HTTP_ADDR=127.0.0.1:0", "LOG_LEVEL=warn"}, "serve", "--embedded")
	s.cl, err = kgo.NewClient(kgo.SeedBrokers(s.brokerAddr), kgo.ProducerLinger(5*time.Millisecond),
		kgo.RecordRetries(1000), kgo.RecordDeliveryTimeout(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.cl.Close)
	s.adm = kadm.NewClient(s.cl)
	ctx, cancel := context.WithTimeout(context.Background(), duration+20*time.Minute)
	t.Cleanup(cancel)
	s.ctx = ctx
	s.createTopics()

	s.hook = &soakHook{rng: rand.New(rand.NewPCG(seed, 2)), firsts: map[string][]int{}, succeeded: map[string]int{},
		at: map[int32][]time.Time{}, by: map[int32][]string{}, first: map[string]time.Time{}}
	srv := httptest.NewServer(s.hook)
	t.Cleanup(srv.Close)
	s.hookURL = srv.URL
	return s
}

// createTopics creates the soak's topics, retrying while the broker
// process starts.
func (s *soak) createTopics() {
	for deadline := time.Now().Add(60 * time.Second); ; {
		_, err := s.adm.CreateTopics(s.ctx, soakPartitions, 1, nil, "soak", "soak-retry-100", "soak-retry-500", "soak.dlq")
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the broker did not come up: %v", err)
		}
		select { // the broker is starting
		case <-time.After(100 * time.Millisecond):
		case <-s.ctx.Done():
			s.t.Fatal(s.ctx.Err())
		}
	}
}

// memberEnv is the environment of the `serve` member named member, whose
// webhook path is its name so that the hook knows who delivered what.
func (s *soak) memberEnv(member string) []string {
	return []string{
		"KAFKA_BROKERS=" + s.brokerAddr,
		"KAFKA_CONSUMER_TOPICS=soak",
		"KAFKA_CONSUMER_FROM_BEGINNING=true",
		"KAFKA_HANDLER=webhook",
		"KAFKA_WEBHOOK_URL=" + s.hookURL + "/" + member,
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

// startMembers starts the members m0 to m2.
func (s *soak) startMembers() {
	for i := range soakMembers {
		s.names[i] = fmt.Sprintf("m%d", i)
		s.procs[i] = startBinary(s.t, s.bin, s.memberEnv(s.names[i]), "serve")
		s.started[s.names[i]] = time.Now()
	}
}

// produce is the load: keyed records at rate until loadCtx ends, each
// key's sequence numbers in order; only acknowledged ones are expected.
func (s *soak) produce(loadCtx context.Context) {
	defer func() { s.loadEnd = time.Now() }()
	seqs := make([]int, soakKeys)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	begin := time.Now()
	sent := 0
	for {
		select {
		case <-loadCtx.Done():
			return
		case now := <-tick.C:
			due := int(now.Sub(begin).Seconds() * float64(s.rate))
			for ; sent < due; sent++ {
				k := sent % soakKeys
				key := fmt.Sprintf("k%d", k)
				if k < 5 {
					key = fmt.Sprintf("p%d", k)
				}
				s.send(key, seqs[k])
				seqs[k]++
			}
		}
	}
}

// send produces key's record number seq and counts its acknowledgement.
func (s *soak) send(key string, seq int) {
	v := fmt.Sprintf("%s/%d", key, seq)
	s.cl.Produce(s.ctx, &kgo.Record{Topic: "soak", Key: []byte(key), Value: []byte(v)}, func(_ *kgo.Record, err error) {
		if err != nil {
			s.failedN.Add(1)
			return
		}
		s.acked.Store(v, true)
		s.ackedN.Add(1)
	})
}

// injectFaults runs the faults until loadCtx ends: a SIGKILL every 60s
// (restart 5s later), a 3s broker freeze every 90s.
func (s *soak) injectFaults(loadCtx context.Context) {
	killTick, freezeTick := time.NewTicker(60*time.Second), time.NewTicker(90*time.Second)
	defer killTick.Stop()
	defer freezeTick.Stop()
	for n := soakMembers; ; n++ {
		select {
		case <-loadCtx.Done():
			return
		case <-freezeTick.C:
			s.freezeBroker()
		case <-killTick.C:
			if !s.killAndRestart(fmt.Sprintf("m%d", n)) {
				return
			}
		}
	}
}

// freezeBroker stops the broker process for 3s.
func (s *soak) freezeBroker() {
	s.broker.cmd.Process.Signal(syscall.SIGSTOP)
	select {
	case <-time.After(3 * time.Second):
	case <-s.ctx.Done():
	}
	s.broker.cmd.Process.Signal(syscall.SIGCONT)
	s.t.Logf("broker frozen 3s at +%v", time.Since(s.started["m0"]).Round(time.Second))
}

// killAndRestart SIGKILLs a random member and, 5s later, starts name in
// its place. It reports false if the soak's context ended meanwhile.
func (s *soak) killAndRestart(name string) bool {
	i := s.rng.IntN(soakMembers)
	s.procMu.Lock()
	victim := s.procs[i]
	s.procMu.Unlock()
	k := soakKill{at: time.Now(), victim: s.names[i]}
	victim.cmd.Process.Kill()
	<-victim.done
	select {
	case <-time.After(5 * time.Second):
	case <-s.ctx.Done():
		return false
	}
	p := startBinary(s.t, s.bin, s.memberEnv(name), "serve")
	s.procMu.Lock()
	s.procs[i], s.names[i], s.started[name] = p, name, time.Now()
	k.restart = name
	s.kills = append(s.kills, k)
	s.procMu.Unlock()
	s.t.Logf("SIGKILL of %s at +%v, restarted as %s", k.victim, time.Since(s.started["m0"]).Round(time.Second), name)
	return true
}

// expected splits the acknowledged records into those the webhook must
// answer 200 and the poison ones that must reach the dead-letter topic.
func (s *soak) expected() (expectOK, expectDead []string) {
	s.acked.Range(func(k, _ any) bool {
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
	return expectOK, expectDead
}

// readAll counts each value topic holds up to its end offsets now. The
// broker is a process of its own, not a kafkatest cluster, and a read that
// stalls for 30s is an error of the soak rather than the end of the test.
func (s *soak) readAll(topic string) map[string]int {
	t := s.t
	out := map[string]int{}
	rc, err := kgo.NewClient(kgo.SeedBrokers(s.brokerAddr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	ends, err := s.adm.ListEndOffsets(s.ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	logged := 0
	for n := int64(0); n < total; {
		rctx, rcancel := context.WithTimeout(s.ctx, 30*time.Second)
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

// drain waits, for at most 5 minutes, until every acknowledged record
// succeeded or is dead, and returns the dead-letter topic's counts.
func (s *soak) drain(expectOK, expectDead []string) map[string]int {
	drainStart := time.Now()
	var dead map[string]int
	for {
		// A record that is not poison may still fail all three calls (1%
		// each, so about one in a million) and be dead-lettered.
		dead = s.readAll("soak.dlq")
		missing, deadMissing := s.hook.unsettled(expectOK, expectDead, dead)
		if missing == 0 && deadMissing == 0 {
			break
		}
		if time.Since(drainStart) > 5*time.Minute {
			s.t.Errorf("after 5 minutes of draining: %d records never reached the webhook, %d poison records not dead-lettered", missing, deadMissing)
			break
		}
		select { // the group drains the backlog
		case <-time.After(5 * time.Second):
		case <-s.ctx.Done():
			s.t.Fatal(s.ctx.Err())
		}
	}
	s.t.Logf("drained %v after the load", time.Since(drainStart).Round(time.Second))
	return dead
}

// unsettled counts the records of expectOK neither answered 200 nor
// dead-lettered, and the poison records of expectDead not dead-lettered.
func (h *soakHook) unsettled(expectOK, expectDead []string, dead map[string]int) (missing, deadMissing int) {
	h.mu.Lock()
	for _, v := range expectOK {
		if h.succeeded[v] == 0 && dead[v] == 0 {
			missing++
		}
	}
	h.mu.Unlock()
	for _, v := range expectDead {
		if dead[v] == 0 {
			deadMissing++
		}
	}
	return missing, deadMissing
}

// soakTally is what the webhook and the dead-letter topic say about the
// acknowledged records once the soak has drained.
type soakTally struct {
	never, orderViolations, duplicates, unlucky int
	deadOK, deadDup, calls                      int
}

// tally counts, under one lock, what the webhook saw of expectOK and
// expectDead; it reports the first five order violations as errors.
func (h *soakHook) tally(t *testing.T, expectOK, expectDead []string, dead map[string]int) soakTally {
	h.mu.Lock()
	defer h.mu.Unlock()
	var c soakTally
	for _, v := range expectOK {
		switch {
		case h.succeeded[v] == 0 && dead[v] == 0:
			c.never++
		case h.succeeded[v] == 0:
			c.unlucky++ // failed all three calls, as 1% of calls do
		}
		c.duplicates += max(h.succeeded[v]-1, 0)
	}
	for key, seqs := range h.firsts {
		for i := 1; i < len(seqs); i++ {
			if seqs[i] < seqs[i-1] {
				c.orderViolations++
				if c.orderViolations <= 5 {
					t.Errorf("key %s: first successes out of order at %d after %d", key, seqs[i], seqs[i-1])
				}
			}
		}
	}
	for _, v := range expectDead {
		if dead[v] > 0 {
			c.deadOK++
		}
		c.deadDup += max(dead[v]-1, 0)
	}
	c.calls = h.calls
	return c
}

// pauses measures, per kill, the partitions another member delivered just
// before it, over the 30s after it; kills too close to the end of the
// load, which stops deliveries, are not counted. toReady is the longest
// restart to first delivery.
func (s *soak) pauses() (otherPause, victimPause, toReady time.Duration) {
	hook := s.hook
	for _, k := range s.kills {
		if k.at.Add(30 * time.Second).After(s.loadEnd) {
			continue
		}
		for p := range int32(soakPartitions) {
			g := hook.gap(p, k.at, k.at.Add(30*time.Second))
			if hook.owner(p, k.at) == k.victim {
				victimPause = max(victimPause, g)
			} else {
				otherPause = max(otherPause, g)
			}
		}
		hook.mu.Lock()
		if first, ok := hook.first[k.restart]; ok {
			toReady = max(toReady, first.Sub(s.started[k.restart]))
		}
		hook.mu.Unlock()
	}
	return otherPause, victimPause, toReady
}

// report reads back the soak topic, logs the soak's figures and fails the
// test on a lost, never delivered or out-of-order record or a poison
// record not dead-lettered.
func (s *soak) report(expectOK, expectDead []string, dead map[string]int) {
	t := s.t
	// Lost: acknowledged and not in the topic.
	inTopic := s.readAll("soak")
	lost := 0
	for _, v := range slices.Concat(expectOK, expectDead) {
		if inTopic[v] == 0 {
			lost++
		}
	}
	c := s.hook.tally(t, expectOK, expectDead, dead)
	otherPause, victimPause, toReady := s.pauses()
	t.Logf("soak %v at %d/s: %d acknowledged, %d lost, %d never reached the webhook or the dead-letter topic, %d per-key order violations, %d/%d poison records dead-lettered (%d extra copies), %d other records dead-lettered after failing every call, %d duplicate deliveries, %d webhook calls; %d SIGKILLs: other members' partitions paused at most %v, the killed member's %v; restart to first delivery at most %v",
		s.duration, s.rate, s.ackedN.Load(), lost, c.never, c.orderViolations, c.deadOK, len(expectDead), c.deadDup, c.unlucky, c.duplicates, c.calls,
		len(s.kills), otherPause.Round(time.Millisecond), victimPause.Round(time.Millisecond), toReady.Round(time.Millisecond))
	if lost > 0 || c.never > 0 || c.orderViolations > 0 || c.deadOK < len(expectDead) {
		t.Errorf("soak failed: %d lost, %d never delivered, %d order violations, %d of %d poison records dead-lettered", lost, c.never, c.orderViolations, c.deadOK, len(expectDead))
	}
}
