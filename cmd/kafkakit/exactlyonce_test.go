package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// reply is one HTTP answer of a `serve` process.
type reply struct {
	status   int
	replayed string
	body     string
}

// postKeyed posts body to url with an Idempotency-Key (none when key is
// empty); a failed exchange is a reply with status 0.
func postKeyed(t *testing.T, url, key, body string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return reply{body: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", `"`+key+`"`)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{body: err.Error()}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, replayed: resp.Header.Get("Idempotent-Replayed"), body: string(b)}
}

// startServe runs `kafkakit serve` on cluster c at addr and returns its
// base URL once it accepts Idempotency-Keys (it answers 503 until it has
// read the key topic).
func startServe(t *testing.T, c *kafkatest.Cluster, addr string) (*process, string) {
	t.Helper()
	p := startProcess(t, []string{
		"KAFKA_BROKERS=" + strings.Join(c.Addrs(), ","),
		"KAFKA_TRANSACTIONAL_ID_PREFIX=eo-test",
		"HTTP_ADDR=" + addr,
		"LOG_LEVEL=info",
	}, "serve")
	url := p.waitLine(t, "http server listening")["url"].(string)
	probe := 0
	kafkatest.WaitFor(t, 60*time.Second, func() error {
		probe++
		r := postKeyed(t, url+"/kafka/send", fmt.Sprintf("probe-%s-%d", addr, probe), `{"topic":"probe","value":"p"}`)
		if r.status != http.StatusOK {
			return fmt.Errorf("probe with a key: %d %s", r.status, r.body)
		}
		return nil
	})
	return p, url
}

// Two `serve` processes on one cluster receiving the same key at the same
// moment, round after round, write one record each round: one request is
// processed, the other answers the first's reply (Idempotent-Replayed) or,
// while the first is in flight, 409 idempotency_conflict; retried, it gets
// the first's reply.
func TestTwoServeProcessesOneRecordPerKey(t *testing.T) {
	kafkatest.Parallel(t)
	const rounds = 20
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1), kafkatest.Topic("probe", 1))
	_, url1 := startServe(t, c, "127.0.0.1:0")
	_, url2 := startServe(t, c, "127.0.0.1:0")
	urls := []string{url1, url2}
	var conflicts, replays int
	for round := range rounds {
		key := fmt.Sprintf("order-%d", round)
		body := fmt.Sprintf(`{"topic":"orders","value":"round-%d"}`, round)
		replies := make([]reply, 2)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, url := range urls {
			wg.Go(func() {
				<-start
				replies[i] = postKeyed(t, url+"/kafka/send", key, body)
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, r := range replies {
			if r.status == http.StatusOK && r.replayed == "" {
				if winner >= 0 {
					t.Fatalf("round %d: both requests were processed: %v", round, replies)
				}
				winner = i
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no request was processed: %v", round, replies)
		}
		loser := replies[1-winner]
		switch {
		case loser.status == http.StatusOK && loser.replayed == "true":
			replays++
			if loser.body != replies[winner].body {
				t.Fatalf("round %d: replay %s differs from the answer %s", round, loser.body, replies[winner].body)
			}
		case loser.status == http.StatusConflict && strings.Contains(loser.body, `"idempotency_conflict"`):
			conflicts++
			// The retry the 409 asks for gets the winner's answer.
			kafkatest.WaitFor(t, 30*time.Second, func() error {
				r := postKeyed(t, urls[1-winner]+"/kafka/send", key, body)
				if r.status != http.StatusOK || r.replayed != "true" || r.body != replies[winner].body {
					return fmt.Errorf("retry after 409: %d replayed %q %s", r.status, r.replayed, r.body)
				}
				return nil
			})
		default:
			t.Fatalf("round %d: the other request answered %d (replayed %q): %s", round, loser.status, loser.replayed, loser.body)
		}
	}
	recs := c.ReadToEnd(t, "orders")
	if len(recs) != rounds {
		t.Fatalf("orders holds %d records, want %d", len(recs), rounds)
	}
	for i, r := range recs {
		if want := fmt.Sprintf("round-%d", i); string(r.Value) != want {
			t.Errorf("record %d is %q, want %q", i, r.Value, want)
		}
	}
	t.Logf("%d rounds: %d losers replayed, %d answered 409", rounds, replays, conflicts)
}

// freeAddr returns a 127.0.0.1 address with a port free now, so that a
// restarted process can listen on the same one.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// `serve` killed with SIGKILL while an atomic batch's transaction is open
// (its records written, its commit held at the broker) leaves nothing of it
// visible to read_committed readers: restarted with the same transactional
// id prefix, host and port, its first atomic batch re-initialises the id,
// which aborts the old transaction.
func TestServeKilledMidTransactionShowsNothing(t *testing.T) {
	kafkatest.Parallel(t)
	sigkillTest(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1), kafkatest.Topic("probe", 1))
	held, wake := make(chan struct{}), make(chan struct{})
	var once sync.Once
	c.Fake().ControlKey(int16(kmsg.EndTxn), func(kmsg.Request) (kmsg.Response, error, bool) {
		first := false
		once.Do(func() { first = true })
		if !first {
			return nil, nil, false // later commits and aborts go through
		}
		close(held)
		c.Fake().SleepControl(func() { <-wake })
		// The process is gone: the commit it asked for is dropped.
		return nil, errors.New("connection dropped"), true
	})
	defer func() {
		select {
		case <-wake:
		default:
			close(wake)
		}
	}()

	addr := freeAddr(t)
	p, url := startServe(t, c, addr)
	batch := func(prefix string) string {
		msgs := make([]string, 10)
		for i := range msgs {
			msgs[i] = fmt.Sprintf(`{"topic":"orders","value":"%s-%d"}`, prefix, i)
		}
		return `{"atomic":true,"messages":[` + strings.Join(msgs, ",") + `]}`
	}
	go postKeyed(t, url+"/kafka/send-batch", "", batch("old")) // fails when the process dies
	select {
	case <-held:
	case <-time.After(60 * time.Second):
		t.Fatal("the atomic batch never reached its commit")
	}
	adm := kadm.NewClient(c.Client(t))
	ends, err := adm.ListEndOffsets(t.Context(), "orders")
	if err != nil || ends.Error() != nil {
		t.Fatal(err, ends.Error())
	}
	if end, _ := ends.Lookup("orders", 0); end.Offset != 10 {
		t.Fatalf("orders ends at %d before the kill, want the 10 uncommitted records", end.Offset)
	}
	p.kill(t)
	close(wake)

	_, url = startServe(t, c, addr)
	if r := postKeyed(t, url+"/kafka/send-batch", "", batch("new")); r.status != http.StatusOK {
		t.Fatalf("atomic batch after the restart: %d %s", r.status, r.body)
	}
	c.Produce(t, &kgo.Record{Topic: "orders", Value: []byte("marker")})
	recs := readCommitted(t, c, "orders", "marker")
	if len(recs) != 10 {
		t.Fatalf("read_committed reader saw %d records before the marker, want the 10 of the new batch", len(recs))
	}
	for i, r := range recs {
		if want := fmt.Sprintf("new-%d", i); string(r.Value) != want {
			t.Errorf("record %d is %q, want %q", i, r.Value, want)
		}
	}
}

// readCommitted reads topic as a read_committed reader until a record
// whose value is marker, and returns the records before it.
func readCommitted(t *testing.T, c *kafkatest.Cluster, topic, marker string) []*kgo.Record {
	t.Helper()
	cl := c.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(100*time.Millisecond))
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("no marker within 60s (the old transaction is still open?); read %d records", len(recs))
		}
		for _, r := range fetches.Records() {
			if string(r.Value) == marker {
				return recs
			}
			recs = append(recs, r)
		}
	}
}
