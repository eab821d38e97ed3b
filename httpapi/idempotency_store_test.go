package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/kafkakit/kafkakit/idempotency"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// storeRecord is a record of the store's topic as the store writes it:
// key scope NUL key NUL claim, value the claim's state.
func storeRecord(key, claim string, value map[string]any, ts time.Time) *kgo.Record {
	v, _ := json.Marshal(value)
	return &kgo.Record{Topic: idempotency.Topic, Key: []byte("-\x00" + key + "\x00" + claim), Value: v, Timestamp: ts}
}

// forgedStoreRecords are records anyone could write to the store's topic
// that do not decode, each with a note saying what is wrong with it.
func forgedStoreRecords(now time.Time) []*kgo.Record {
	claim := strings.Repeat("c", 32)
	good := map[string]any{"claim": claim, "fp": "x", "state": "done", "status": 200, "body": []byte(`{}`)}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for k, v := range good {
			m[k] = v
		}
		m[k] = v
		return m
	}
	raw := func(key, value string) *kgo.Record {
		r := &kgo.Record{Topic: idempotency.Topic, Key: []byte(key)}
		if value != "" {
			r.Value = []byte(value)
		}
		return r
	}
	forged := []*kgo.Record{
		raw("", `{"claim":"abcdef","state":"claimed"}`),              // key shorter than its claim
		raw("abc", `{"claim":"abcdef","state":"claimed"}`),           // the same, not empty
		raw("abcdef", `{"claim":"abcdef","state":"claimed"}`),        // nothing before the claim
		raw("-\x00k\x00zzzzzz", `{"claim":"abcdef","state":"done"}`), // a key of another claim
		raw("-\x00k\x00", ""),                                        // no value
		raw("-\x00k\x00", `garbage`),                                 // not JSON
		raw("-\x00k\x00", `{"claim":7}`),                             // wrong types
		raw("-\x00k\x00", `[]`),                                      // not an object
		raw("-\x00k\x00", `{"claim":"","state":"claimed"}`),          // no claim
		raw("-\x00k\x00"+strings.Repeat("c", 100), `{"claim":"`+strings.Repeat("c", 100)+`","state":"claimed"}`), // claim too long
		storeRecord("k", claim, with("state", "lost"), now),                                                      // unknown state
		storeRecord("k", claim, with("status", 0), now),                                                          // an answer without a status
		storeRecord("k", claim, with("status", 1000), now),                                                       // not an HTTP status
		storeRecord("k", claim, with("body", "!not base64!"), now),                                               // a body that is not base64
	}
	for i, r := range forged {
		r.Partition = int32(i % 8)
	}
	return forged
}

// Records anyone can write to the store's topic that do not decode are
// skipped and counted, by a running store and by one that reads them
// again after a restart, which both still answer correctly.
func TestIdempotencyForgedRecordsAreSkipped(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1))
	store := openStore(t, c, time.Hour)
	a := newAPI(t, c, httpapi.Idempotency(store))
	first := a.postKey(t, "/kafka/send", "before", sendBody)
	if first.status != http.StatusOK {
		t.Fatalf("first: status %d: %s", first.status, first.raw)
	}
	forged := forgedStoreRecords(time.Now())
	raws := c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := raws.ProduceSync(t.Context(), forged...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	want := int64(len(forged))
	kafkatest.WaitFor(t, 10*time.Second, func() error {
		if got := store.Stats().Skipped; got != want {
			return fmt.Errorf("skipped %d records, want %d", got, want)
		}
		return nil
	})
	checkKeysStillAnswered(t, a, first, "running")
	store.Close()
	restarted := openStore(t, c, time.Hour)
	if got := restarted.Stats().Skipped; got != want {
		t.Errorf("restarted store skipped %d records, want %d", got, want)
	}
	checkKeysStillAnswered(t, newAPI(t, c, httpapi.Idempotency(restarted)), first, "restarted")
	if n := totalRecords(t, c, "orders"); n != 3 {
		t.Fatalf("orders holds %d records, want 3", n)
	}
}

// checkKeysStillAnswered checks, after the store skipped forged records,
// that a repeat of the key "before" replays first, and that a new key is
// sent and then replayed.
func checkKeysStillAnswered(t *testing.T, a *api, first *answer, when string) {
	t.Helper()
	if again := a.postKey(t, "/kafka/send", "before", sendBody); again.raw != first.raw || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("%s: repeat of a key answered before: status %d %s, want the replayed %s", when, again.status, again.raw, first.raw)
	}
	key := "after-" + when
	fresh := a.postKey(t, "/kafka/send", key, sendBody)
	if fresh.status != http.StatusOK || fresh.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("%s: new key: status %d: %s", when, fresh.status, fresh.raw)
	}
	if again := a.postKey(t, "/kafka/send", key, sendBody); again.raw != fresh.raw || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("%s: repeat of a new key: status %d: %s", when, again.status, again.raw)
	}
}

// A claim stamped in the future counts as made now: it expires with its
// lease rather than holding its key until then. 50 minutes ahead is as far
// as Apache Kafka takes by default (message.timestamp.after.max.ms, 1 hour)
// and far beyond the lease.
func TestIdempotencyFutureClaimExpires(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1))
	store, err := idempotency.Open(t.Context(), c.Config(), time.Hour, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	a := newAPI(t, c, httpapi.Idempotency(store))
	r := storeRecord("future", strings.Repeat("f", 32), map[string]any{"claim": strings.Repeat("f", 32), "fp": "x", "state": "claimed"},
		time.Now().Add(50*time.Minute))
	c.Produce(t, r)
	kafkatest.WaitFor(t, 10*time.Second, func() error {
		if store.Stats().Keys == 0 {
			return fmt.Errorf("the claim is not read yet")
		}
		return nil
	})
	kafkatest.WaitFor(t, 10*time.Second, func() error {
		ans := a.postKey(t, "/kafka/send", "future", sendBody)
		if ans.status != http.StatusOK || ans.header.Get("Idempotent-Replayed") != "" {
			return fmt.Errorf("status %d: %s", ans.status, ans.raw)
		}
		return nil
	})
}

// holdProduce holds produce requests to topic at the broker from the
// first: held is closed when it arrives, and it goes on once release is.
func holdProduce(t *testing.T, c *kafkatest.Cluster, topic string, held, release chan struct{}) {
	t.Helper()
	topics, err := kadm.NewClient(c.Client(t)).ListTopics(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	id := topics[topic].ID
	var once sync.Once
	c.Fake().ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.Fake().KeepControl()
		for _, tp := range req.(*kmsg.ProduceRequest).Topics {
			if tp.Topic == topic || tp.TopicID == id {
				once.Do(func() { close(held) })
				c.Fake().SleepControl(func() { <-release })
			}
		}
		return nil, nil, false
	})
}

func waitClosed(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("waited 20s and still not: %s", what)
	}
}

// An instance whose copy of the topic lags says 409 only after reading
// the key's partition to its end: a request completed on another instance
// gets its stored answer.
func TestIdempotencyCatchesUpBefore409(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1))
	a := newAPI(t, c, httpapi.Idempotency(openStore(t, c, time.Hour)))
	// The second instance's fetches carry a rack, which picks them out
	// to be held.
	lagging := openStore(t, c, time.Hour, idempotency.ClientOpts(kgo.Rack("lagging")))
	b := newAPI(t, c, httpapi.Idempotency(lagging))

	var holdFetches, catchUp atomic.Bool
	fetchHeld := make(chan struct{}, 1)
	resume := make(chan struct{})
	var resumeOnce sync.Once
	c.Fake().ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.Fake().KeepControl()
		if req.(*kmsg.FetchRequest).Rack == "lagging" && holdFetches.Load() {
			select {
			case fetchHeld <- struct{}{}:
			default:
			}
			c.Fake().SleepControl(func() { <-resume })
		}
		return nil, nil, false
	})
	c.Fake().ControlKey(int16(kmsg.ListOffsets), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.Fake().KeepControl()
		if catchUp.Load() {
			resumeOnce.Do(func() { close(resume) })
		}
		return nil, nil, false
	})
	held, release := make(chan struct{}), make(chan struct{})
	holdProduce(t, c, "orders", held, release)

	firstDone := make(chan *answer, 1)
	go func() { firstDone <- a.postKey(t, "/kafka/send", "k", sendBody) }()
	waitClosed(t, held, "the first send reached the broker")
	// The lagging instance has read the claim, then stops reading.
	kafkatest.WaitFor(t, 10*time.Second, func() error {
		if lagging.Stats().Keys == 0 {
			return fmt.Errorf("the lagging instance has not read the claim")
		}
		return nil
	})
	holdFetches.Store(true)
	select {
	case <-fetchHeld:
	case <-time.After(20 * time.Second):
		t.Fatal("the lagging instance never fetched again")
	}
	close(release)
	first := <-firstDone
	if first.status != http.StatusOK {
		t.Fatalf("first: status %d: %s", first.status, first.raw)
	}
	catchUp.Store(true)
	again := b.postKey(t, "/kafka/send", "k", sendBody)
	if again.raw != first.raw || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("repeat on the lagging instance: status %d %s, want the replayed %s", again.status, again.raw, first.raw)
	}
	if n := totalRecords(t, c, "orders"); n != 1 {
		t.Fatalf("orders holds %d records, want 1", n)
	}
}

// Beyond MaxKeys or MaxBytes the key written longest ago is
// forgotten: its repeat is processed as a new request, while later keys
// still replay. The newest key is kept whatever its size.
func TestIdempotencyBoundEvictsOldest(t *testing.T) {
	kafkatest.Parallel(t)
	tests := []struct {
		name                string
		opt                 idempotency.Option
		keys                int
		replayed, forgotten string
	}{
		{"max keys", idempotency.MaxKeys(3), 3, "key-2", "key-1"},
		{"max bytes", idempotency.MaxBytes(1), 1, "key-4", "key-3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1))
			store := openStore(t, c, time.Hour, tt.opt)
			a := newAPI(t, c, httpapi.Idempotency(store))
			answers := map[string]*answer{}
			for i := range 5 {
				key := fmt.Sprint("key-", i)
				answers[key] = a.postKey(t, "/kafka/send", key, sendBody)
				if answers[key].status != http.StatusOK {
					t.Fatalf("%s: status %d: %s", key, answers[key].status, answers[key].raw)
				}
			}
			st := store.Stats()
			if st.Keys != tt.keys || st.Evicted != int64(5-tt.keys) || st.Bytes <= 0 {
				t.Fatalf("stats %+v, want %d keys, %d evicted and their bytes", st, tt.keys, 5-tt.keys)
			}
			if again := a.postKey(t, "/kafka/send", tt.replayed, sendBody); again.raw != answers[tt.replayed].raw || again.header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("%s again: status %d %s, want it replayed", tt.replayed, again.status, again.raw)
			}
			if again := a.postKey(t, "/kafka/send", tt.forgotten, sendBody); again.status != http.StatusOK || again.header.Get("Idempotent-Replayed") != "" {
				t.Fatalf("%s again: status %d replayed %q, want it processed anew", tt.forgotten, again.status, again.header.Get("Idempotent-Replayed"))
			}
			if n := totalRecords(t, c, "orders"); n != 6 {
				t.Fatalf("orders holds %d records, want 6", n)
			}
		})
	}
}

// Answers already past the TTL when the topic is read again, as after a
// restart, take no memory.
func TestIdempotencyExpiredAnswersAreNotLoaded(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t)
	openStore(t, c, time.Hour).Close() // creates the topic
	old := time.Now().Add(-2 * time.Hour)
	var recs []*kgo.Record
	for i := range 20 {
		claim := fmt.Sprintf("%032d", i)
		recs = append(recs,
			storeRecord(fmt.Sprint("old-", i), claim, map[string]any{"claim": claim, "fp": "x", "state": "claimed"}, old),
			storeRecord(fmt.Sprint("old-", i), claim, map[string]any{"claim": claim, "fp": "x", "state": "done", "status": 200, "body": []byte(`{}`)}, old))
	}
	claim := strings.Repeat("n", 32)
	recs = append(recs, storeRecord("new", claim, map[string]any{"claim": claim, "fp": "x", "state": "done", "status": 200, "body": []byte(`{}`)}, time.Now()))
	c.Produce(t, recs...)
	if st := openStore(t, c, time.Hour).Stats(); st.Keys != 1 {
		t.Fatalf("stats after reading the topic %+v, want the one key within the TTL", st)
	}
}
