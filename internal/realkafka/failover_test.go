package realkafka_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/internal/realkafka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// envFailover runs the three-node failover tests: they start Apache Kafka
// (Java and Maven needed) and take minutes.
const envFailover = "KAFKAKIT_REALKAFKA_FAILOVER"

const (
	topic      = "failover"
	partitions = 3
	keys       = 12
	// sendRate is the sends per second the load keeps up, each in its own
	// request, whatever the answers take.
	sendRate = 40
	// requestTimeout is the service's KAFKA_REQUEST_TIMEOUT: how long a
	// send may wait for its acknowledgement. No answer may take longer
	// (with a margin for a loaded machine).
	requestTimeout = 15 * time.Second
)

// TestFailover runs, on three real nodes (replication factor 3,
// min.insync.replicas=2, acks all, idempotent producer), `kafkakit serve`
// taking sends at a steady rate and consuming them into a webhook, through
// a SIGKILL of the leader of partition 0 and that node's restart, then
// through a rolling restart of all three nodes. Every send answered 200
// must be in the topic exactly once and reach the webhook, in per-key
// order; no answer is a 500 or takes longer than the request timeout; a
// 503 carries Retry-After.
func TestFailover(t *testing.T) {
	if os.Getenv(envFailover) == "" {
		t.Skipf("set %s=1 to run the three-node failover tests (they start Apache Kafka)", envFailover)
	}
	ctx := t.Context()
	// As production clusters run: serve creates its dead-letter and
	// Idempotency-Key topics at start, the test its topic.
	c, err := realkafka.Start(ctx, realkafka.Options{Nodes: 3, Dir: t.TempDir(), Heap: "384m", NoAutoCreate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	adm := admin(t, c)
	if resp, err := adm.CreateTopic(ctx, partitions, 3, nil, topic); err != nil || resp.Err != nil {
		t.Fatalf("create topic: %v %v", err, resp.Err)
	}

	hook := newWebhook(t)
	svc := startServe(t, c, hook.URL)
	load := startLoad(t, svc)
	runFaults(t, c, adm, load)
	load.stop()

	r := load.report()
	for _, l := range r.lines() {
		t.Log(l)
		fmt.Println("failover: " + l)
	}
	checkAnswers(t, r)
	checkTopic(t, c, r)
	checkWebhook(t, hook, r)
	svc.stop(t)
}

// runFaults takes the cluster through its faults while load sends, each
// phase marked in the load's report: a SIGKILL of the leader of partition
// 0 and its restart, then a rolling restart of every node.
func runFaults(t *testing.T, c *realkafka.Cluster, adm *kadm.Client, load *load) {
	phase := func(name string) { load.mark(name); t.Logf("%s: %s", time.Now().Format("15:04:05.000"), name) }
	phase("warm-up")
	waitSends(t, load, 3*sendRate)

	// SIGKILL of the node that leads partition 0.
	leader := leaderOf(t, adm, 0)
	nd := c.Nodes[leader-1]
	phase(fmt.Sprintf("SIGKILL of node %d, leader of partition 0", leader))
	nd.Kill()
	waitFor(t, 60*time.Second, func() error {
		if l := leaderOf(t, adm, 0); l == leader {
			return fmt.Errorf("node %d still leads partition 0", l)
		}
		return nil
	})
	phase("new leader elected")
	waitSends(t, load, 3*sendRate)
	phase(fmt.Sprintf("restart of node %d", leader))
	if err := c.Restart(nd); err != nil {
		t.Fatal(err)
	}
	waitInSync(t, c, adm)
	phase("all replicas in sync")
	waitSends(t, load, 3*sendRate)

	// A rolling restart: each node stopped (controlled shutdown) and
	// started again, the next one once every replica is in sync.
	for _, nd := range c.Nodes {
		phase(fmt.Sprintf("rolling restart: node %d", nd.ID))
		nd.Shutdown()
		if err := c.Restart(nd); err != nil {
			t.Fatal(err)
		}
		waitInSync(t, c, adm)
	}
	phase("rolling restart done")
	waitSends(t, load, 3*sendRate)
}

// checkAnswers holds the HTTP answers to their promise: each send
// answered, none slower than the request timeout allows, no 500, and
// every 503 with Retry-After.
func checkAnswers(t *testing.T, r report) {
	t.Helper()
	if r.errors > 0 {
		t.Errorf("%d sends got no answer: %s", r.errors, r.firstError)
	}
	if r.slowest > requestTimeout+5*time.Second {
		t.Errorf("the slowest answer took %v, over the request timeout %v", r.slowest, requestTimeout)
	}
	for status, n := range r.statuses {
		if status >= 500 && status != http.StatusServiceUnavailable && status != http.StatusGatewayTimeout {
			t.Errorf("%d answers %d, want none", n, status)
		}
	}
	if r.noRetryAfter > 0 {
		t.Errorf("%d answers 503 without Retry-After", r.noRetryAfter)
	}
}

// checkTopic checks that every acknowledged send is in the topic exactly
// once.
func checkTopic(t *testing.T, c *realkafka.Cluster, r report) {
	t.Helper()
	inTopic := readTopic(t, c)
	var missing, dupAcked, dupAll int
	for seq, n := range inTopic {
		if n > 1 {
			dupAll += n - 1
			if r.acked[seq] {
				dupAcked += n - 1
			}
		}
	}
	for seq := range r.acked {
		if inTopic[seq] == 0 {
			missing++
		}
	}
	msg := fmt.Sprintf("topic: %d acknowledged sends, %d of them missing, %d duplicated records of acknowledged sends, %d duplicated records in all, %d records in all", len(r.acked), missing, dupAcked, dupAll, sum(inTopic))
	t.Log(msg)
	fmt.Println("failover: " + msg)
	if missing > 0 || dupAcked > 0 {
		t.Errorf("%d acknowledged sends missing from the topic, %d duplicated", missing, dupAcked)
	}
}

// checkWebhook checks the consumer group in serve: every acknowledged
// send reaches the webhook, in per-key order.
func checkWebhook(t *testing.T, hook *webhook, r report) {
	t.Helper()
	waitFor(t, 120*time.Second, func() error {
		got := hook.distinct()
		for seq := range r.acked {
			if !got[seq] {
				return fmt.Errorf("the webhook has %d distinct messages, not yet every acknowledged one (%d)", len(got), len(r.acked))
			}
		}
		return nil
	})
	calls, dups, outOfOrder := hook.check()
	msg := fmt.Sprintf("webhook: %d calls, %d distinct messages, %d redeliveries, %d out of per-key order", calls, len(hook.distinct()), dups, len(outOfOrder))
	t.Log(msg)
	fmt.Println("failover: " + msg)
	for _, e := range outOfOrder[:min(len(outOfOrder), 10)] {
		t.Error(e)
	}
}

func sum(m map[int]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func admin(t *testing.T, c *realkafka.Cluster) *kadm.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers()...), kgo.MetadataMinAge(100*time.Millisecond), kgo.RequestTimeoutOverhead(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func leaderOf(t *testing.T, adm *kadm.Client, partition int32) int32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return -1
	}
	p, ok := md.Topics[topic].Partitions[partition]
	if !ok {
		return -1
	}
	return p.Leader
}

// waitInSync waits until every node is in the metadata and every
// partition of the topic has all three replicas in sync.
func waitInSync(t *testing.T, c *realkafka.Cluster, adm *kadm.Client) {
	t.Helper()
	if err := c.WaitReady(t.Context(), 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Minute, func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			return err
		}
		for _, p := range md.Topics[topic].Partitions {
			if len(p.ISR) != 3 || p.Leader < 0 {
				return fmt.Errorf("partition %d: leader %d, in sync %v", p.Partition, p.Leader, p.ISR)
			}
		}
		return nil
	})
}

func waitFor(t *testing.T, maxWait time.Duration, try func() error) {
	t.Helper()
	deadline := time.Now().Add(maxWait)
	for {
		err := try()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not after %v: %v", maxWait, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitSends waits until n more sends have been answered.
func waitSends(t *testing.T, l *load, n int) {
	t.Helper()
	from := l.answered()
	waitFor(t, 2*time.Minute, func() error {
		if got := l.answered() - from; got < n {
			return fmt.Errorf("%d of %d sends answered", got, n)
		}
		return nil
	})
}

// service is a `kafkakit serve` process.
type service struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
}

func startServe(t *testing.T, c *realkafka.Cluster, webhook string) *service {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kafkakit")
	build := exec.Command("go", "build", "-o", bin, "github.com/kafkakit/kafkakit/cmd/kafkakit")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build kafkakit: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"KAFKA_BROKERS="+strings.Join(c.Brokers(), ","),
		"HTTP_ADDR=127.0.0.1:0",
		"KAFKA_CLIENT_ID=failover",
		"KAFKA_GROUP_ID=failover-group",
		"KAFKA_CONSUMER_TOPICS="+topic,
		"KAFKA_CONSUMER_FROM_BEGINNING=true",
		"KAFKA_HANDLER=webhook",
		"KAFKA_WEBHOOK_URL="+webhook,
		"KAFKA_ACKS=all",
		"KAFKA_IDEMPOTENT=true",
		"KAFKA_REQUEST_TIMEOUT="+strconv.Itoa(int(requestTimeout.Milliseconds())),
		"KAFKA_SESSION_TIMEOUT=10000",
		"KAFKA_HEARTBEAT_INTERVAL=1000",
		"LOG_LEVEL=info",
	)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &service{cmd: cmd, done: make(chan struct{})}
	urls := make(chan string, 1)
	go func() {
		defer close(s.done)
		defer logf.Close()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			logf.Write(append(sc.Bytes(), '\n'))
			var line struct{ Msg, URL string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "http server listening" {
				select {
				case urls <- line.URL:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() { s.kill() })
	select {
	case s.url = <-urls:
	case <-time.After(60 * time.Second):
		t.Fatalf("kafkakit serve did not listen within 60s (log: %s)", logf.Name())
	}
	// Ready: a broker answers and the consumer has joined its group.
	waitFor(t, 2*time.Minute, func() error {
		resp, err := http.Get(s.url + "/readyz")
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("/readyz: %d %s", resp.StatusCode, body)
		}
		return nil
	})
	return s
}

func (s *service) stop(t *testing.T) {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		t.Error("kafkakit serve did not stop within 60s of SIGTERM")
	}
	_ = s.cmd.Wait()
}

func (s *service) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
	_ = s.cmd.Wait()
}

// load sends at sendRate, each send its own request, and keeps every
// answer.
type load struct {
	url    string
	client *http.Client
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	phase   string
	answers []answer
}

type answer struct {
	seq          int
	phase        string
	status       int
	code         string // the error answer's code
	retryAfter   bool
	err          error
	start, taken time.Time
}

func startLoad(t *testing.T, s *service) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{url: s.url, client: &http.Client{Timeout: requestTimeout + 30*time.Second}, cancel: cancel}
	l.wg.Go(func() {
		tick := time.NewTicker(time.Second / sendRate)
		defer tick.Stop()
		// Bounded: at most 20 minutes of sends, and at most 500 in flight.
		inFlight := make(chan struct{}, 500)
		for seq := 0; seq < 20*60*sendRate; seq++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			select {
			case inFlight <- struct{}{}:
			case <-ctx.Done():
				return
			}
			l.wg.Go(func() {
				defer func() { <-inFlight }()
				l.send(seq)
			})
		}
	})
	t.Cleanup(l.stop)
	return l
}

func (l *load) mark(phase string) {
	l.mu.Lock()
	l.phase = phase
	l.mu.Unlock()
}

func (l *load) send(seq int) {
	l.mu.Lock()
	a := answer{seq: seq, phase: l.phase, start: time.Now()}
	l.mu.Unlock()
	body := fmt.Sprintf(`{"topic":%q,"key":"k%d","value":%d}`, topic, seq%keys, seq)
	resp, err := l.client.Post(l.url+"/kafka/send", "application/json", strings.NewReader(body))
	a.taken = time.Now()
	if err != nil {
		a.err = err
	} else {
		a.status = resp.StatusCode
		a.retryAfter = resp.Header.Get("Retry-After") != ""
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&e)
		a.code = e.Error.Code
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	l.mu.Lock()
	l.answers = append(l.answers, a)
	l.mu.Unlock()
}

func (l *load) answered() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.answers)
}

func (l *load) stop() {
	l.cancel()
	l.wg.Wait()
}

type report struct {
	acked        map[int]bool
	statuses     map[int]int
	byPhase      map[string]map[string]int
	phases       []string
	errors       int
	firstError   error
	noRetryAfter int
	slowest      time.Duration
	stall        time.Duration
	stallAt      time.Time
}

func (l *load) report() report {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := report{acked: map[int]bool{}, statuses: map[int]int{}, byPhase: map[string]map[string]int{}}
	var ackTimes []time.Time
	for _, a := range l.answers {
		if took := a.taken.Sub(a.start); took > r.slowest {
			r.slowest = took
		}
		if a.err != nil {
			r.errors++
			if r.firstError == nil {
				r.firstError = a.err
			}
			continue
		}
		r.statuses[a.status]++
		if r.byPhase[a.phase] == nil {
			r.byPhase[a.phase] = map[string]int{}
			r.phases = append(r.phases, a.phase)
		}
		r.byPhase[a.phase][strings.TrimSpace(strconv.Itoa(a.status)+" "+a.code)]++
		if a.status == http.StatusOK {
			r.acked[a.seq] = true
			ackTimes = append(ackTimes, a.taken)
		}
		if a.status == http.StatusServiceUnavailable && !a.retryAfter {
			r.noRetryAfter++
		}
	}
	// The longest stall: the longest time without an acknowledgement.
	slices.SortFunc(ackTimes, func(a, b time.Time) int { return a.Compare(b) })
	for i := 1; i < len(ackTimes); i++ {
		if d := ackTimes[i].Sub(ackTimes[i-1]); d > r.stall {
			r.stall, r.stallAt = d, ackTimes[i-1]
		}
	}
	return r
}

func (r report) lines() []string {
	total := r.errors
	for _, n := range r.statuses {
		total += n
	}
	out := []string{
		fmt.Sprintf("sends: %d answered at %d/s, %d acknowledged (200), answers %s, %d without an answer; slowest answer %v; longest stall without an acknowledgement %v (from %s)",
			total, sendRate, len(r.acked), statusString(r.statuses, strconv.Itoa), r.errors, r.slowest.Round(time.Millisecond), r.stall.Round(time.Millisecond), r.stallAt.Format("15:04:05.000")),
	}
	for _, p := range r.phases {
		out = append(out, fmt.Sprintf("  sends started during %q: %s", p, statusString(r.byPhase[p], func(s string) string { return s })))
	}
	return out
}

func statusString[K int | string](m map[K]int, name func(K) string) string {
	var codes []K
	for c := range m {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d×%s", m[c], name(c)))
	}
	return strings.Join(parts, ", ")
}

func readTopic(t *testing.T, c *realkafka.Cluster) map[int]int {
	t.Helper()
	adm := admin(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers()...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[int]int{}
	for n := int64(0); n < total; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records: %v", n, total, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			n++
			seq, err := strconv.Atoi(string(r.Value))
			if err != nil {
				t.Errorf("record %s/%d@%d: value %q", r.Topic, r.Partition, r.Offset, r.Value)
				return
			}
			seen[seq]++
		})
	}
	return seen
}

// webhook records each call's key, value, partition and offset.
type webhook struct {
	*httptest.Server
	mu    sync.Mutex
	calls []call
}

type call struct {
	Key       string `json:"key"`
	Value     int    `json:"value"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

func newWebhook(t *testing.T) *webhook {
	w := &webhook{}
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var c call
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&c); err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		w.mu.Lock()
		w.calls = append(w.calls, c)
		w.mu.Unlock()
	}))
	t.Cleanup(w.Close)
	return w
}

func (w *webhook) distinct() map[int]bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	got := map[int]bool{}
	for _, c := range w.calls {
		got[c.Value] = true
	}
	return got
}

// check counts redeliveries and finds messages whose first delivery came
// before that of an earlier message of the same key (one partition, lower
// offset): at-least-once may deliver again, but never out of order.
func (w *webhook) check() (calls, redeliveries int, outOfOrder []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := map[int]bool{}
	// The highest offset first delivered, per key.
	last := map[string]int64{}
	for _, c := range w.calls {
		if seen[c.Value] {
			redeliveries++
			continue
		}
		seen[c.Value] = true
		if l, ok := last[c.Key]; ok && c.Offset < l {
			outOfOrder = append(outOfOrder, fmt.Sprintf("key %s: offset %d first delivered after offset %d", c.Key, c.Offset, l))
		}
		last[c.Key] = c.Offset
	}
	return len(w.calls), redeliveries, outOfOrder
}
