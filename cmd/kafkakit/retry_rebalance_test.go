package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// deliveryLog records, per member (the webhook path it was given) and
// partition, when records of the subscribed topic reached the webhook. It
// fails one record in 50, and takes 800ms over every retry.
type deliveryLog struct {
	mu sync.Mutex
	at map[int32][]time.Time // partition -> delivery times
	by map[int32]string      // partition -> member that delivered it last
	// first is when each member first delivered a record.
	first map[string]time.Time
}

func (l *deliveryLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Offset    int64  `json:"offset"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if body.Topic != "rb" {
		// A retry is slow: a member that must give up its partitions
		// waits for the one in flight.
		time.Sleep(800 * time.Millisecond)
		return
	}
	if body.Offset%50 == 7 {
		http.Error(w, "failing", http.StatusInternalServerError)
		return
	}
	now, member := time.Now(), strings.TrimPrefix(r.URL.Path, "/")
	l.mu.Lock()
	defer l.mu.Unlock()
	l.at[body.Partition] = append(l.at[body.Partition], now)
	l.by[body.Partition] = member
	if _, ok := l.first[member]; !ok {
		l.first[member] = now
	}
}

// owned is the partitions member delivered last.
func (l *deliveryLog) owned(member string) []int32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int32
	for p, m := range l.by {
		if m == member {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// ownerOf is the member that delivered partition p last.
func (l *deliveryLog) ownerOf(p int32) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.by[p]
}

// longestGap is the longest time without a delivery on partition p that
// ends after from, counted from from at the earliest.
func (l *deliveryLog) longestGap(p int32, from time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var longest time.Duration
	prev := from
	for _, at := range l.at[p] {
		if at.Before(from) {
			continue
		}
		longest = max(longest, at.Sub(prev))
		prev = at
	}
	return longest
}

func (l *deliveryLog) since(p int32, from time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, at := range l.at[p] {
		if at.After(from) {
			n++
		}
	}
	return n
}

// TestRetryTopicsMemberCrashPausesOnlyItsPartitions: three `serve`
// processes in retry-topics mode share six partitions while records flow
// into every partition, one in 50 failing into the retry topics, where
// the webhook takes 800ms; one process is SIGKILLed. The partitions the
// others hold stay with them, every partition flows again, and the
// restarted process delivers. It logs the figures: the
// longest pause of the survivors' partitions and of the dead member's,
// restart to first delivery, and the pause the join causes to the
// partitions that do not move. KAFKAKIT_REBALANCE_BINARY runs another
// build (an older release) for comparison.
func TestRetryTopicsMemberCrashPausesOnlyItsPartitions(t *testing.T) {
	if testing.Short() {
		t.Skip("measures a crash and a restart of three processes")
	}
	const partitions = 6
	bin := binary
	if b := os.Getenv("KAFKAKIT_REBALANCE_BINARY"); b != "" {
		bin = b
	}
	c := kafkatest.NewCluster(t, kafkatest.Topic("rb", partitions), kafkatest.Topic("rb-retry-100", partitions),
		kafkatest.Topic("rb-retry-500", partitions))
	hook := &deliveryLog{at: map[int32][]time.Time{}, by: map[int32]string{}, first: map[string]time.Time{}}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	r := &rebalanceRun{t: t, c: c, hook: hook, bin: bin, url: srv.URL, members: map[string]*process{}}
	for p := range int32(partitions) {
		r.all = append(r.all, p)
	}

	produceSteadily(t, c, partitions)
	for _, m := range []string{"m1", "m2", "m3"} {
		r.start(m)
	}
	r.waitSteady()
	crash := r.kill("m1")
	survivorPause, deadPause := r.waitTakeover(crash)
	toReady, stayedPause := r.restart("m4")
	t.Logf("SIGKILL of one of 3 members: longest pause of the other members' partitions %v, of the killed member's %v; restart to first delivery %v; longest pause, around the join, of the partitions that stayed %v",
		survivorPause.Round(time.Millisecond), deadPause.Round(time.Millisecond), toReady.Round(time.Millisecond), stayedPause.Round(time.Millisecond))
	for _, p := range r.members {
		if p.cmd.ProcessState == nil {
			p.stop(t)
		}
	}
}

// rebalanceRun is the state the phases of
// TestRetryTopicsMemberCrashPausesOnlyItsPartitions share.
type rebalanceRun struct {
	t       *testing.T
	c       *kafkatest.Cluster
	hook    *deliveryLog
	bin     string
	url     string  // the webhook's; each member calls it at its own path
	all     []int32 // the partitions of rb
	members map[string]*process
}

// start starts a serve process that calls the webhook at path /member.
func (r *rebalanceRun) start(member string) {
	r.t.Helper()
	r.members[member] = startBinary(r.t, r.bin, webhookServeEnv(r.c, "rb", r.url+"/"+member,
		"KAFKA_GROUP_ID=rebalance-pause",
		"KAFKA_HANDLER_RETRY_MODE=topics",
		"KAFKA_HANDLER_RETRY_DELAYS=100,500",
		"KAFKA_SESSION_TIMEOUT=6000",
		"KAFKA_HEARTBEAT_INTERVAL=500",
		"KAFKA_MAX_WAIT_TIME=200",
	), "serve")
}

// produceSteadily writes a record into every partition of rb every 20ms,
// until the test ends (at most 5 minutes), and waits for the writer then.
func produceSteadily(t *testing.T, c *kafkatest.Cluster, partitions int32) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	cl := c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var produced sync.WaitGroup
	produced.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for p := range partitions {
				cl.Produce(ctx, &kgo.Record{Topic: "rb", Partition: p, Key: fmt.Appendf(nil, "k%d-%d", p, i), Value: []byte("v")}, nil)
			}
		}
	})
	t.Cleanup(func() {
		cancel()
		produced.Wait()
	})
}

// waitSteady waits until each member delivers two partitions.
func (r *rebalanceRun) waitSteady() {
	r.t.Helper()
	kafkatest.WaitFor(r.t, 60*time.Second, func() error {
		for m := range r.members {
			if n := len(r.hook.owned(m)); n != 2 {
				return fmt.Errorf("member %s delivers partitions %v, want 2", m, r.hook.owned(m))
			}
		}
		return nil
	})
}

// memberCrash is what the pause figures are measured against: when the
// member died, its partitions, the others', and who delivered each
// partition before.
type memberCrash struct {
	at          time.Time
	dead        []int32
	survivors   []int32
	ownerBefore map[int32]string
}

// kill SIGKILLs member and waits for it to end.
func (r *rebalanceRun) kill(member string) memberCrash {
	r.t.Helper()
	crash := memberCrash{dead: r.hook.owned(member), ownerBefore: map[int32]string{}}
	for _, p := range r.all {
		if !slices.Contains(crash.dead, p) {
			crash.survivors = append(crash.survivors, p)
		}
		crash.ownerBefore[p] = r.hook.ownerOf(p)
	}
	crash.at = time.Now()
	r.members[member].kill(r.t)
	return crash
}

// waitDeliveredSince waits until each of partitions has delivered since
// from; event names from in the error.
func (r *rebalanceRun) waitDeliveredSince(partitions []int32, from time.Time, event string) {
	r.t.Helper()
	kafkatest.WaitFor(r.t, 120*time.Second, func() error {
		for _, p := range partitions {
			if r.hook.since(p, from) == 0 {
				return fmt.Errorf("partition %d has not delivered since the %s", p, event)
			}
		}
		return nil
	})
}

// waitTakeover waits until every pause the crash caused is over, checks
// that the survivors kept their partitions, and returns the longest
// pause of theirs and of the dead member's.
func (r *rebalanceRun) waitTakeover(crash memberCrash) (survivorPause, deadPause time.Duration) {
	r.t.Helper()
	// The killed member's partitions flow again, taken over; then the
	// others have delivered since, so every pause is over.
	r.waitDeliveredSince(crash.dead, crash.at, "kill")
	r.waitDeliveredSince(r.all, time.Now(), "takeover")
	for _, p := range crash.survivors {
		if got := crash.ownerBefore[p]; r.hook.ownerOf(p) != got {
			r.t.Errorf("partition %d moved from %s to %s when another member died", p, got, r.hook.ownerOf(p))
		}
	}
	for _, p := range crash.survivors {
		survivorPause = max(survivorPause, r.hook.longestGap(p, crash.at))
	}
	for _, p := range crash.dead {
		deadPause = max(deadPause, r.hook.longestGap(p, crash.at))
	}
	return survivorPause, deadPause
}

// restart starts member and returns the time to its first delivery and
// the longest pause, around its join, of the partitions it did not take.
func (r *rebalanceRun) restart(member string) (toReady, stayedPause time.Duration) {
	r.t.Helper()
	hook := r.hook
	restarted := time.Now()
	r.start(member)
	kafkatest.WaitFor(r.t, 120*time.Second, func() error {
		hook.mu.Lock()
		defer hook.mu.Unlock()
		if _, ok := hook.first[member]; !ok {
			return fmt.Errorf("the restarted member has delivered nothing")
		}
		return nil
	})
	hook.mu.Lock()
	toReady = hook.first[member].Sub(restarted)
	joined := hook.first[member]
	hook.mu.Unlock()
	// The join moved some partitions to the new member; the others' pause
	// around it is that of the partitions that stayed.
	r.waitDeliveredSince(r.all, joined, "join")
	moved := hook.owned(member)
	for _, p := range r.all {
		if !slices.Contains(moved, p) {
			stayedPause = max(stayedPause, hook.longestGap(p, restarted))
		}
	}
	return toReady, stayedPause
}
