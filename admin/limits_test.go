package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var quiet = slog.New(slog.DiscardHandler)

// liveHeap is the heap the last garbage collection found live.
func liveHeap() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// TestConcurrentReadsOfLargeDeadLettersStayBounded: concurrent reads of a
// topic of large dead letters hold what the read budget allows, whatever
// the letters' sizes: each is answered (200, or 503 overloaded with
// Retry-After when the budget is taken), the budget's count never passes
// its size, the heap the reads keep live stays far below what the letters
// weigh, and the listed letters are cut with a flag saying so.
func TestConcurrentReadsOfLargeDeadLettersStayBounded(t *testing.T) {
	const letters, size, readers = 64, 192 << 10, 8
	c := kafkatest.NewCluster(t, kafkatest.Topic("big", 1), kafkatest.Topic("big.dlq", 1))
	writeLargeDeadLetters(t, c, letters, size)
	h := admin.New(c.Config(), c.Client(t), admin.Logger(quiet), admin.MaxReadBytes(3*admin.ReadReserve),
		admin.Timeout(time.Minute)) // slow under load, never cut short
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	runtime.GC()
	base := liveHeap()
	stopSampling := sampleLiveHeap()
	var wg sync.WaitGroup
	var ok atomic.Int64
	answers := make(chan string, readers)
	for i := range readers {
		wg.Go(func() { answers <- readLargeDeadLetters(srv, i, size, &ok) })
	}
	wg.Wait()
	peak := stopSampling()
	close(answers)
	for a := range answers {
		if a != "" {
			t.Error(a)
		}
	}
	used, budget := admin.ReadBudget(h)
	if used > budget || used < admin.ReadReserve {
		t.Errorf("the read budget held %d bytes at most, of %d", used, budget)
	}
	if ok.Load() == 0 {
		t.Error("no read was answered 200")
	}
	// Each read would otherwise keep all the letters it scans (12 MiB):
	// 8 of them, 96 MiB. The broker, in this process, holds a copy of
	// each fetch it answers: two per read of at most 2 MiB.
	const broker = 3 * 2 * 2 << 20
	if grew := peak - base; grew > budget+broker {
		t.Errorf("the reads kept %d MiB live at once, more than the read budget's %d MiB and the broker's %d MiB", grew>>20, budget>>20, broker>>20)
	}
	t.Logf("live heap grew by %d MiB at most; the read budget held %d MiB at most, of %d", (peak-base)>>20, used>>20, budget>>20)
}

// writeLargeDeadLetters writes letters dead letters of topic big to
// big.dlq, each with a value of size bytes.
func writeLargeDeadLetters(t *testing.T, c *kafkatest.Cluster, letters, size int) {
	t.Helper()
	p, err := producer.New(c.Config(), producer.Logger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	value := []byte(`"` + strings.Repeat("x", size-2) + `"`)
	var msgs []producer.Message
	for i := range letters {
		msg := &consumer.Message{Topic: "big", Offset: int64(i), Key: fmt.Appendf(nil, "k%d", i), Value: value, Timestamp: time.Now()}
		msgs = append(msgs, consumer.DeadLetter(msg, fmt.Errorf("failed %d", i%3), 3, "g", "big.dlq", time.Now()))
	}
	if _, err := p.SendBatch(t.Context(), msgs); err != nil {
		t.Fatal(err)
	}
	p.Close()
}

// sampleLiveHeap samples the live heap every 2ms until the function it
// returns is called, which returns the most the reads kept live at any
// collection.
func sampleLiveHeap() (stop func() int64) {
	var peak int64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, liveHeap())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		<-sampled
		return peak
	}
}

// readLargeDeadLetters is reader i's read of big.dlq, of a page of 1 or
// of 100 letters: it returns what is wrong with the answer, or "" if
// nothing is, and counts the answers 200 in ok.
func readLargeDeadLetters(srv *httptest.Server, i, size int, ok *atomic.Int64) string {
	paths := []string{"/kafka/dlq/big.dlq?limit=1", "/kafka/topics/big.dlq/messages?limit=100"}
	path := paths[i%2]
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	switch {
	case resp.StatusCode == 200:
		// A page of 1 has room for a whole letter; one of 100
		// cuts each to its share.
		var page struct{ Messages []admin.Listed }
		err := json.Unmarshal(body, &page)
		whole := len(page.Messages) > 0 && !page.Messages[0].Truncated && len(page.Messages[0].Value) == size
		cut := len(page.Messages) > 0 && page.Messages[0].Truncated && len(page.Messages[0].Value) <= admin.PageBytes/100+2
		if err != nil || i%2 == 0 && !whole || i%2 == 1 && !cut {
			return fmt.Sprintf("%s: %d messages, the first not as its share allows (%v)", path, len(page.Messages), err)
		}
		ok.Add(1)
	case resp.StatusCode == 503 && resp.Header.Get("Retry-After") == "1" && strings.Contains(string(body), `"code":"overloaded"`):
	default:
		return fmt.Sprintf("%s: %d %s", path, resp.StatusCode, body)
	}
	return ""
}

// stall makes the cluster hold requests of key until release is called,
// and returns a channel that receives once one is held.
func stall(t *testing.T, c *kafkatest.Cluster, key kmsg.Key) (held <-chan struct{}, release func()) {
	t.Helper()
	ch, done := make(chan struct{}, 1), make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(done) }) }
	t.Cleanup(release)
	c.Fake().ControlKey(int16(key), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.Fake().KeepControl()
		select {
		case ch <- struct{}{}:
		default:
		}
		c.Fake().SleepControl(func() { <-done })
		return nil, nil, false
	})
	return ch, release
}

// getWithin gets path, giving up when ctx ends.
func getWithin(ctx context.Context, srv *httptest.Server, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
	if err != nil {
		return nil, err
	}
	return srv.Client().Do(req)
}

// overloadedAnswer checks that resp is 503 overloaded with Retry-After, in
// the JSON error shape.
func overloadedAnswer(t *testing.T, what string, resp *http.Response) {
	t.Helper()
	defer resp.Body.Close()
	var e struct {
		Error struct{ Code, Message string }
	}
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != 503 || e.Error.Code != "overloaded" ||
		resp.Header.Get("Retry-After") != "1" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("%s: got %d %q (Retry-After %q), want 503 overloaded with Retry-After: 1", what, resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
}

// TestInFlightLimit: with MaxInFlight requests being handled, the next is
// answered 503 overloaded with Retry-After at once; /kafka/live streams
// have slots of their own and do not take those of requests.
func TestInFlightLimit(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("t", 1))
	srv := serve(t, c, admin.MaxInFlight(1), admin.Metrics(prometheus.NewRegistry()))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	// One live stream holds the only live slot; a second is refused.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/kafka/live", nil)
	live, err := srv.Client().Do(req)
	if err != nil || live.StatusCode != 200 {
		t.Fatalf("live stream: %v %v", live, err)
	}
	defer live.Body.Close()
	resp, err := getWithin(ctx, srv, "/kafka/live")
	if err != nil {
		t.Fatal(err)
	}
	overloadedAnswer(t, "a second live stream", resp)

	// A request the cluster holds takes the only request slot.
	held, release := stall(t, c, kmsg.Metadata)
	first := make(chan int, 1)
	go func() {
		resp, err := getWithin(ctx, srv, "/kafka/topics")
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	select {
	case <-held:
	case <-ctx.Done():
		t.Fatal("the first request never reached the cluster")
	}
	resp, err = getWithin(ctx, srv, "/kafka/groups")
	if err != nil {
		t.Fatal(err)
	}
	overloadedAnswer(t, "a request while another is handled", resp)
	release()
	if code := <-first; code != 200 {
		t.Errorf("the held request: %d, want 200", code)
	}
	var list struct{ Topics []admin.Topic }
	if code := get(t, srv, "/kafka/topics", "", &list); code != 200 {
		t.Errorf("after the held request: %d, want 200", code)
	}
}

// TestReadBudget: a request reading records that does not fit in the read
// budget beside those running is answered 503 at once, and fits again
// once they end.
func TestReadBudget(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("t", 1))
	produce(t, c, &kgo.Record{Topic: "t", Value: []byte("v")})
	srv := serve(t, c, admin.MaxReadBytes(1)) // one read at a time
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	held, release := stall(t, c, kmsg.Fetch)
	first := make(chan int, 1)
	go func() {
		resp, err := getWithin(ctx, srv, "/kafka/topics/t/messages")
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	select {
	case <-held:
	case <-ctx.Done():
		t.Fatal("the first read never fetched")
	}
	for _, path := range []string{"/kafka/topics/t/messages", "/kafka/dlq/t"} {
		resp, err := getWithin(ctx, srv, path)
		if err != nil {
			t.Fatal(err)
		}
		overloadedAnswer(t, path+" beside another read", resp)
	}
	var list struct{ Topics []admin.Topic }
	if code := get(t, srv, "/kafka/topics", "", &list); code != 200 {
		t.Errorf("a request that reads no records: %d, want 200", code)
	}
	release()
	if code := <-first; code != 200 {
		t.Errorf("the held read: %d, want 200", code)
	}
	var page struct{ Messages []message }
	if code := get(t, srv, "/kafka/topics/t/messages", "", &page); code != 200 || len(page.Messages) != 1 {
		t.Errorf("a read after: %d %+v", code, page.Messages)
	}
}

// TestOversizedBatchIsNotRead: a batch larger than a read may hold (the
// topic allows 8 MiB) is refused with 502 and why, never held.
func TestOversizedBatchIsNotRead(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("huge", 1),
		kafkatest.KfakeOpts(kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(8 << 20)})))
	cl := c.Client(t, kgo.ProducerBatchMaxBytes(8<<20), kgo.MaxBufferedBytes(64<<20))
	if err := cl.ProduceSync(t.Context(), &kgo.Record{Topic: "huge", Value: bytes.Repeat([]byte("y"), 3<<20)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, c)
	for _, path := range []string{"/kafka/topics/huge/messages", "/kafka/dlq/huge"} {
		var e struct {
			Error struct{ Code, Message string }
		}
		if code := get(t, srv, path, "", &e); code != 502 || e.Error.Code != "broker_error" || !strings.Contains(e.Error.Message, "BrokerMaxReadBytes") {
			t.Errorf("GET %s: %d %+v, want 502 saying the answer is over the limit", path, code, e.Error)
		}
	}
}
