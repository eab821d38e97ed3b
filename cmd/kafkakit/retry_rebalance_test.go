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
	env := func(member string) []string {
		return []string{
			"KAFKA_BROKERS=" + strings.Join(c.Addrs(), ","),
			"KAFKA_CONSUMER_TOPICS=rb",
			"KAFKA_HANDLER=webhook",
			"KAFKA_WEBHOOK_URL=" + srv.URL + "/" + member,
			"KAFKA_GROUP_ID=rebalance-pause",
			"KAFKA_HANDLER_RETRY_MODE=topics",
			"KAFKA_HANDLER_RETRY_DELAYS=100,500",
			"KAFKA_SESSION_TIMEOUT=6000",
			"KAFKA_HEARTBEAT_INTERVAL=500",
			"KAFKA_MAX_WAIT_TIME=200",
			"HTTP_ADDR=127.0.0.1:0",
			"LOG_LEVEL=warn",
		}
	}

	// A record into every partition every 20ms, until the test ends
	// (at most 5 minutes).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
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
			for p := range int32(partitions) {
				cl.Produce(ctx, &kgo.Record{Topic: "rb", Partition: p, Key: fmt.Appendf(nil, "k%d-%d", p, i), Value: []byte("v")}, nil)
			}
		}
	})
	defer produced.Wait()
	defer cancel()

	members := map[string]*process{}
	for _, m := range []string{"m1", "m2", "m3"} {
		members[m] = startBinary(t, bin, env(m), "serve")
	}
	// Steady: each member delivers two partitions.
	kafkatest.WaitFor(t, 60*time.Second, func() error {
		for m := range members {
			if n := len(hook.owned(m)); n != 2 {
				return fmt.Errorf("member %s delivers partitions %v, want 2", m, hook.owned(m))
			}
		}
		return nil
	})
	dead := hook.owned("m1")
	var survivors []int32
	for p := range int32(partitions) {
		if !slices.Contains(dead, p) {
			survivors = append(survivors, p)
		}
	}
	ownerBefore := map[int32]string{}
	for p := range int32(partitions) {
		ownerBefore[p] = hook.ownerOf(p)
	}
	killed := time.Now()
	if err := members["m1"].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-members["m1"].done
	// The killed member's partitions flow again, taken over; then the
	// others have delivered since, so every pause is over.
	kafkatest.WaitFor(t, 120*time.Second, func() error {
		for _, p := range dead {
			if hook.since(p, killed) == 0 {
				return fmt.Errorf("partition %d has not delivered since the kill", p)
			}
		}
		return nil
	})
	resumed := time.Now()
	kafkatest.WaitFor(t, 120*time.Second, func() error {
		for p := range int32(partitions) {
			if hook.since(p, resumed) == 0 {
				return fmt.Errorf("partition %d has not delivered since the takeover", p)
			}
		}
		return nil
	})
	for _, p := range survivors {
		if got := ownerBefore[p]; hook.ownerOf(p) != got {
			t.Errorf("partition %d moved from %s to %s when another member died", p, got, hook.ownerOf(p))
		}
	}
	var survivorPause, deadPause time.Duration
	for _, p := range survivors {
		survivorPause = max(survivorPause, hook.longestGap(p, killed))
	}
	for _, p := range dead {
		deadPause = max(deadPause, hook.longestGap(p, killed))
	}

	restarted := time.Now()
	members["m4"] = startBinary(t, bin, env("m4"), "serve")
	kafkatest.WaitFor(t, 120*time.Second, func() error {
		hook.mu.Lock()
		defer hook.mu.Unlock()
		if _, ok := hook.first["m4"]; !ok {
			return fmt.Errorf("the restarted member has delivered nothing")
		}
		return nil
	})
	hook.mu.Lock()
	toReady := hook.first["m4"].Sub(restarted)
	joined := hook.first["m4"]
	hook.mu.Unlock()
	// The join moved some partitions to the new member; the others' pause
	// around it is that of the partitions that stayed.
	kafkatest.WaitFor(t, 120*time.Second, func() error {
		for p := range int32(partitions) {
			if hook.since(p, joined) == 0 {
				return fmt.Errorf("partition %d has not delivered since the join", p)
			}
		}
		return nil
	})
	moved := hook.owned("m4")
	var stayedPause time.Duration
	for p := range int32(partitions) {
		if !slices.Contains(moved, p) {
			stayedPause = max(stayedPause, hook.longestGap(p, restarted))
		}
	}
	t.Logf("SIGKILL of one of 3 members: longest pause of the other members' partitions %v, of the killed member's %v; restart to first delivery %v; longest pause, around the join, of the partitions that stayed %v",
		survivorPause.Round(time.Millisecond), deadPause.Round(time.Millisecond), toReady.Round(time.Millisecond), stayedPause.Round(time.Millisecond))
	for _, p := range members {
		if p.cmd.ProcessState == nil {
			p.stop(t)
		}
	}
}
