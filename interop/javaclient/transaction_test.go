package javaclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	txTopic      = "payments"
	txPartitions = 3
	txMarker     = "marker"
	killCycles   = 2
	bigBatch     = 1000 // records of a batch that serve is killed in; HTTP_MAX_BATCH's default
)

// TestAtomicBatchSeenFromJava sends atomic batches over HTTP to `kafkakit
// serve` (a real process) and reads the topic with Java KafkaConsumers.
// Batches answered 200 are whole to a read_committed reader. Twice, serve
// is frozen (SIGSTOP) while a batch's transaction is open with part of its
// records in the log, killed with SIGKILL and restarted with the same
// transactional ids, which aborts what it left open. A read_committed
// reader sees nothing of the killed batches and every record of the others
// once; a read_uncommitted reader also sees the killed batches' records
// that reached the log, as Kafka defines: it reads aborted records. How
// many reached the log is counted by franz-go, a second reader.
func TestAtomicBatchSeenFromJava(t *testing.T) {
	requireJava(t)
	bin := kafkakitBinary(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic(txTopic, txPartitions))
	adm := kadm.NewClient(c.Client(t))
	addr := freeAddr(t)
	s := startServe(t, bin, c.Addrs()[0], addr)

	committed := map[string]int{} // batch -> records, for batches answered 200
	var killed []string
	for cycle := range killCycles {
		// One batch per client of serve's pool of 4: each re-initialises
		// its transactional id on its first batch, which aborts what the
		// killed process left open, so that only the big batch below
		// moves the log's end while it is in flight.
		for i := range 4 {
			name := fmt.Sprintf("c%d-ok%d", cycle, i)
			s.sendOK(t, name, 50)
			committed[name] = 50
		}
		name, done := killMidBatch(t, adm, s, fmt.Sprintf("c%d-big", cycle))
		for _, d := range done {
			committed[d] = bigBatch
		}
		killed = append(killed, name)
		s = startServe(t, bin, c.Addrs()[0], addr)
	}
	for i := range 4 {
		name := fmt.Sprintf("after-%d", i)
		s.sendOK(t, name, 30)
		committed[name] = 30
	}
	var markers []*kgo.Record
	for p := range int32(txPartitions) {
		markers = append(markers, &kgo.Record{Topic: txTopic, Partition: p, Value: []byte(txMarker)})
	}
	c.Produce(t, markers...)

	rc, ru := readBatches(t, c, "read_committed"), readBatches(t, c, "read_uncommitted")
	inLog := readBatchesGo(t, c)
	for name, n := range committed {
		if rc[name] != n || ru[name] != n {
			t.Errorf("batch %s, answered 200: read_committed saw %d records, read_uncommitted %d, want %d", name, rc[name], ru[name], n)
		}
	}
	for _, name := range killed {
		if rc[name] != 0 {
			t.Errorf("killed batch %s: read_committed saw %d of its records, want none", name, rc[name])
		}
		if ru[name] == 0 || ru[name] != inLog[name] {
			t.Errorf("killed batch %s: read_uncommitted saw %d of its records, franz-go %d, want the same, more than none", name, ru[name], inLog[name])
		}
	}
	if len(rc) != len(committed) {
		t.Errorf("read_committed saw batches %v, want only the %d answered 200", rc, len(committed))
	}
	abortedSeen := map[string]int{}
	for _, name := range killed {
		abortedSeen[name] = ru[name]
	}
	t.Logf("read_committed: %d batches, each whole; aborted records of the killed batches, seen by read_uncommitted: %v", len(rc), abortedSeen)
}

// readBatches reads the topic with Main's read command at isolation and
// counts the records of each batch, failing t on a record read twice.
func readBatches(t *testing.T, c *kafkatest.Cluster, isolation string) map[string]int {
	t.Helper()
	type record struct {
		Event string `json:"event"`
		Value string `json:"value"`
	}
	perBatch := map[string]int{}
	seen := map[string]bool{}
	for _, r := range runJava[record](t, 3*time.Minute, "read", c.Addrs()[0], txTopic, isolation, txMarker) {
		if r.Event == "done" {
			continue
		}
		if seen[r.Value] {
			t.Errorf("%s: %q read twice", isolation, r.Value)
		}
		seen[r.Value] = true
		batch, _, _ := strings.Cut(r.Value, "/")
		perBatch[batch]++
	}
	return perBatch
}

// readBatchesGo counts each batch's records with franz-go at
// read_uncommitted, up to the markers.
func readBatchesGo(t *testing.T, c *kafkatest.Cluster) map[string]int {
	t.Helper()
	cl := c.Client(t, kgo.ConsumeTopics(txTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	perBatch := map[string]int{}
	done := map[int32]bool{}
	for len(done) < txPartitions {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("franz-go: no marker within 2 minutes on partitions other than %v", done)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			switch {
			case done[r.Partition]:
			case string(r.Value) == txMarker:
				done[r.Partition] = true
			default:
				batch, _, _ := strings.Cut(string(r.Value), "/")
				perBatch[batch]++
			}
		})
	}
	return perBatch
}

// killMidBatch sends atomic batches of bigBatch records named prefix-<n>
// until it freezes serve (SIGSTOP) with part of one in the log, which it
// then kills (SIGKILL). Part of a batch in the log means its commit has
// not been sent: the client commits once every record is acknowledged,
// and an acknowledged record is below the end offset. It returns the
// killed batch's name and those of the batches that committed first.
func killMidBatch(t *testing.T, adm *kadm.Client, s *serve, prefix string) (killed string, committed []string) {
	t.Helper()
	for n := range 20 {
		name := fmt.Sprintf("%s-%d", prefix, n)
		before := settledEnd(t, adm)
		answered := make(chan int, 1)
		go func() { answered <- s.send(name, bigBatch) }()
		if !waitPartlyInLog(t, adm, before, answered) {
			if status := <-answered; status != http.StatusOK {
				t.Fatalf("atomic batch %s: %d", name, status)
			}
			committed = append(committed, name)
			continue
		}
		if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		if in := logEnd(t, adm) - before; in > 0 && in < bigBatch {
			s.kill(t)
			return name, committed
		}
		if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		if status := <-answered; status != http.StatusOK {
			t.Fatalf("atomic batch %s: %d", name, status)
		}
		committed = append(committed, name)
	}
	t.Fatalf("20 atomic batches of %d records committed before serve could be frozen with part of one in the log", bigBatch)
	return "", nil
}

// waitPartlyInLog waits until the topic's log holds some but not all of
// a batch begun at end offset before, and reports false if the batch was
// answered first.
func waitPartlyInLog(t *testing.T, adm *kadm.Client, before int64, answered chan int) bool {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case status := <-answered:
			answered <- status // for the caller
			return false
		default:
		}
		if in := logEnd(t, adm) - before; in > 0 && in < bigBatch {
			return true
		}
	}
	t.Fatal("an atomic batch was neither answered nor seen in the log within 60s")
	return false
}

// settledEnd waits until no transaction is open or ending on the topic
// (each partition's last stable offset is its end: the broker answers a
// commit before it writes the commit's markers) and returns logEnd.
func settledEnd(t *testing.T, adm *kadm.Client) int64 {
	t.Helper()
	var end int64
	kafkatest.WaitFor(t, 60*time.Second, func() error {
		ends, err := adm.ListEndOffsets(t.Context(), txTopic)
		if err == nil {
			err = ends.Error()
		}
		stable, serr := adm.ListCommittedOffsets(t.Context(), txTopic)
		if serr == nil {
			serr = stable.Error()
		}
		if err != nil || serr != nil {
			return fmt.Errorf("offsets of %s: %v %v", txTopic, err, serr)
		}
		end = 0
		var open []int32
		ends.Each(func(o kadm.ListedOffset) {
			end += o.Offset
			if s, _ := stable.Lookup(txTopic, o.Partition); s.Offset != o.Offset {
				open = append(open, o.Partition)
			}
		})
		if len(open) > 0 {
			return fmt.Errorf("partitions %v of %s have records after their last stable offset", open, txTopic)
		}
		return nil
	})
	return end
}

// logEnd is the sum of the topic's partitions' end offsets (high
// watermarks): the records appended, whether committed or not.
func logEnd(t *testing.T, adm *kadm.Client) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, txTopic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("end offsets of %s: %v", txTopic, err)
	}
	var sum int64
	ends.Each(func(o kadm.ListedOffset) { sum += o.Offset })
	return sum
}

// serve is a `kafkakit serve` process.
type serve struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
	log  lockedBuffer
}

// startServe runs `kafkakit serve` on the broker at bootstrap, listening
// on addr, with small produce batches sent one request at a time, so that
// a big atomic batch reaches the log in many steps.
func startServe(t *testing.T, bin, bootstrap, addr string) *serve {
	t.Helper()
	s := &serve{cmd: exec.Command(bin, "serve"), done: make(chan struct{})}
	s.cmd.Env = append(os.Environ(),
		"KAFKA_BROKERS="+bootstrap,
		"HTTP_ADDR="+addr,
		"KAFKA_TRANSACTIONAL_ID_PREFIX=javaclient-tx",
		"KAFKA_BATCH_SIZE=2048",
		"KAFKA_MAX_IN_FLIGHT_REQUESTS=1",
		"LOG_LEVEL=info",
	)
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan string, 1)
	go func() {
		defer close(s.done)
		eachLine(stderr, func(line []byte) {
			s.log.Write(append(line, '\n'))
			var l struct{ Msg, URL string }
			if json.Unmarshal(line, &l) == nil && l.Msg == "http server listening" {
				listening <- l.URL
			}
		})
		_ = s.cmd.Wait()
	}()
	t.Cleanup(func() {
		s.kill(t)
		if t.Failed() {
			t.Logf("kafkakit serve output:\n%s", tail(s.log.String(), 8000))
		}
	})
	select {
	case s.url = <-listening:
	case <-s.done:
		t.Fatalf("kafkakit serve ended before listening:\n%s", s.log.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("kafkakit serve did not listen within 60s:\n%s", s.log.String())
	}
	return s
}

// send posts an atomic batch of n records named name/<i>, spread over the
// partitions, and returns the answer's status, 0 if there was none.
func (s *serve) send(name string, n int) int {
	status, _ := s.post(name, n)
	return status
}

// sendOK sends like send and fails t unless the answer is 200.
func (s *serve) sendOK(t *testing.T, name string, n int) {
	t.Helper()
	if status, body := s.post(name, n); status != http.StatusOK {
		t.Fatalf("atomic batch %s: %d %s", name, status, body)
	}
}

func (s *serve) post(name string, n int) (int, string) {
	msgs := make([]string, n)
	for i := range msgs {
		msgs[i] = fmt.Sprintf(`{"topic":%q,"partition":%d,"value":"%s/%d"}`, txTopic, i%txPartitions, name, i)
	}
	body := `{"atomic":true,"messages":[` + strings.Join(msgs, ",") + `]}`
	client := http.Client{Timeout: 2 * time.Minute}
	resp, err := client.Post(s.url+"/kafka/send-batch", "application/json", strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

// kill ends the process with SIGKILL, if it runs, and waits for it.
func (s *serve) kill(t *testing.T) {
	t.Helper()
	select {
	case <-s.done:
		return
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Error(err)
	}
	<-s.done
}

// freeAddr returns a 127.0.0.1 address with a port free now, so that a
// restarted process listens on the same one and so has the same
// transactional ids.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// kafkakitBinary builds cmd/kafkakit once per test binary.
func kafkakitBinary(t *testing.T) string {
	t.Helper()
	binary.Do(func() {
		dir, err := os.MkdirTemp("", "javaclient-kafkakit")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "kafkakit")
		out, err := exec.Command("go", "build", "-o", binary.path, "github.com/kafkakit/kafkakit/cmd/kafkakit").CombinedOutput()
		if err != nil {
			binary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

var binary struct {
	sync.Once
	path string
	err  error
}
