package javaclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/twmb/franz-go/pkg/kadm"
)

const (
	groupTopic      = "shared"
	groupPartitions = 6
	perPartition    = 10 // records per partition and step
)

// TestSharedGroupWithJava runs Java KafkaConsumer members and kafkakit
// consumers in one group, with each assignor both offer and with the
// KIP-848 consumer protocol, through joins and graceful leaves on both
// sides and a Java member killed with SIGKILL:
//
//   - after each step the members own every partition, each once;
//   - each partition is read by one member at a time, in offset order:
//     where it changes hands, the next member starts at the offset after
//     the last one the previous member handled, so nothing is lost, and
//     nothing is read twice except what the killed member had handled but
//     not committed (at least once);
//   - at the end, the offsets the group committed, read back through
//     Java's Admin client and through franz-go, are the partitions' ends.
func TestSharedGroupWithJava(t *testing.T) {
	requireJava(t)
	for _, mode := range []string{config.AssignerCooperativeSticky, config.AssignerRange, config.GroupProtocolConsumer} {
		t.Run(mode, func(t *testing.T) { testSharedGroup(t, mode) })
	}
}

func testSharedGroup(t *testing.T, mode string) {
	c := kafkatest.NewCluster(t, kafkatest.Topic(groupTopic, groupPartitions))
	cfg := c.Config()
	cfg.GroupID = "shared-" + mode
	if mode == config.GroupProtocolConsumer {
		cfg.GroupProtocol = config.GroupProtocolConsumer
	} else {
		cfg.Assigners = []string{mode}
	}
	log := &deliveries{}
	steps := 0
	step := func(name string, members ...member) {
		t.Helper()
		waitOwned(t, name, members)
		steps++
		produceStep(t, cfg, steps)
		waitDelivered(t, log, name, steps*perPartition)
	}

	k1 := startKafkakit(t, cfg, log, "kafkakit-1")
	step("kafkakit-1 alone", k1)
	j1 := startJava(t, c.Addrs()[0], cfg.GroupID, mode, log, "java-1")
	step("java-1 joins", k1, j1)
	j2 := startJava(t, c.Addrs()[0], cfg.GroupID, mode, log, "java-2")
	step("java-2 joins", k1, j1, j2)
	k1.leave(t)
	step("kafkakit-1 leaves", j1, j2)
	k2 := startKafkakit(t, cfg, log, "kafkakit-2")
	step("kafkakit-2 joins", j1, j2, k2)
	j1.leave(t)
	step("java-1 leaves", j2, k2)
	j2.kill(t)
	step("java-2 killed", k2)
	k2.leave(t)

	dups := log.check(t, steps*perPartition, "java-2")
	t.Logf("%s: %d records, %d deliveries, %d read again after java-2 was killed",
		mode, steps*perPartition*groupPartitions, log.len(), dups)
	checkCommitted(t, c, cfg.GroupID, int64(steps*perPartition))
}

// member is a group member of either client.
type member interface {
	name() string
	// owned returns the partitions the member holds now, and whether it
	// has joined.
	owned() ([]int32, bool)
	// failed says why the member ended without being asked to, nil while
	// it runs.
	failed() error
}

// waitOwned waits until members own every partition between them, each
// once, with none left out.
func waitOwned(t *testing.T, step string, members []member) {
	t.Helper()
	kafkatest.WaitFor(t, 90*time.Second, func() error {
		var all []int32
		owners := map[string][]int32{}
		for _, m := range members {
			if err := m.failed(); err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			ps, joined := m.owned()
			if !joined || len(ps) == 0 {
				return fmt.Errorf("%s: %s owns no partition yet; owned: %v", step, m.name(), owners)
			}
			owners[m.name()] = ps
			all = append(all, ps...)
		}
		slices.Sort(all)
		want := make([]int32, groupPartitions)
		for i := range want {
			want[i] = int32(i)
		}
		if !slices.Equal(all, want) {
			return fmt.Errorf("%s: the members own partitions %v, want each of 0-%d once", step, owners, groupPartitions-1)
		}
		return nil
	})
}

// produceStep writes perPartition records to each partition, valued
// "s<step>-p<partition>-<i>".
func produceStep(t *testing.T, cfg config.Kafka, step int) {
	t.Helper()
	p, err := producer.New(cfg, producer.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var msgs []producer.Message
	for part := range int32(groupPartitions) {
		for i := range perPartition {
			msgs = append(msgs, producer.Message{Topic: groupTopic, Partition: new(part),
				Value: fmt.Appendf(nil, "s%d-p%d-%d", step, part, i)})
		}
	}
	if _, err := p.SendBatch(t.Context(), msgs); err != nil {
		t.Fatal(err)
	}
}

// waitDelivered waits until every partition's offsets below end have been
// handled.
func waitDelivered(t *testing.T, log *deliveries, step string, end int) {
	t.Helper()
	kafkatest.WaitFor(t, 90*time.Second, func() error {
		for p := range int32(groupPartitions) {
			if n := log.distinct(p); n < end {
				return fmt.Errorf("%s: partition %d: %d of %d records handled", step, p, n, end)
			}
		}
		return nil
	})
}

// delivery is one record handled by one member.
type delivery struct {
	member    string
	partition int32
	offset    int64
	ms        int64 // wall clock, milliseconds: the same clock in every process
}

// deliveries is the log of every record handled by every member.
type deliveries struct {
	mu  sync.Mutex
	all []delivery
}

func (d *deliveries) add(x delivery) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.all = append(d.all, x)
}

func (d *deliveries) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.all)
}

// distinct counts the distinct offsets of partition p handled.
func (d *deliveries) distinct(p int32) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	seen := map[int64]bool{}
	for _, x := range d.all {
		if x.partition == p {
			seen[x.offset] = true
		}
	}
	return len(seen)
}

// check walks each partition's deliveries in the order they were
// handled: one member reads offsets one after another; where the next
// member takes over, it starts right after the previous one's last
// offset, or, after a member that was killed, at or before it. It
// returns how many records were read again, and fails t on a gap, a
// duplicate elsewhere, or offsets beyond end.
func (d *deliveries) check(t *testing.T, end int, killed string) (again int) {
	t.Helper()
	d.mu.Lock()
	all := slices.Clone(d.all)
	d.mu.Unlock()
	slices.SortStableFunc(all, func(a, b delivery) int {
		if a.partition != b.partition {
			return int(a.partition - b.partition)
		}
		if a.ms != b.ms {
			return int(a.ms - b.ms)
		}
		return int(a.offset - b.offset)
	})
	for i, x := range all {
		if x.offset >= int64(end) {
			t.Errorf("partition %d: offset %d handled by %s, beyond the %d records written", x.partition, x.offset, x.member, end)
		}
		if i == 0 || all[i-1].partition != x.partition {
			if x.offset != 0 {
				t.Errorf("partition %d: first handled offset is %d (by %s), want 0", x.partition, x.offset, x.member)
			}
			continue
		}
		prev := all[i-1]
		switch {
		case x.offset == prev.offset+1:
		case x.member != prev.member && prev.member == killed && x.offset <= prev.offset:
			again += int(prev.offset + 1 - x.offset)
		default:
			t.Errorf("partition %d: %s handled offset %d at %d ms right after %s handled offset %d at %d ms",
				x.partition, x.member, x.offset, x.ms, prev.member, prev.offset, prev.ms)
		}
	}
	return again
}

// checkCommitted reads the group's committed offsets through Java's Admin
// client and through franz-go: both must be end for every partition.
func checkCommitted(t *testing.T, c *kafkatest.Cluster, group string, end int64) {
	t.Helper()
	type committed struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Offset    int64  `json:"offset"`
	}
	java := runJava[committed](t, 2*time.Minute, "offsets", c.Addrs()[0], group)
	if len(java) != groupPartitions {
		t.Errorf("Java's Admin client read %d committed offsets of %s, want %d: %v", len(java), group, groupPartitions, java)
	}
	for _, o := range java {
		if o.Topic != groupTopic || o.Offset != end {
			t.Errorf("Java's Admin client read %s[%d] committed at %d, want %d", o.Topic, o.Partition, o.Offset, end)
		}
	}
	offsets, err := kadm.NewClient(c.Client(t)).FetchOffsets(t.Context(), group)
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(groupPartitions) {
		if o, ok := offsets.Lookup(groupTopic, p); !ok || o.At != end {
			t.Errorf("franz-go read %s[%d] committed at %d (found %v), want %d", groupTopic, p, o.At, ok, end)
		}
	}
}

// kafkakitMember is kafkakit's consumer in this process.
type kafkakitMember struct {
	id     string
	c      *consumer.Consumer
	cancel context.CancelFunc
	done   chan error
}

func startKafkakit(t *testing.T, cfg config.Kafka, log *deliveries, id string) *kafkakitMember {
	t.Helper()
	c, err := consumer.New(cfg, consumer.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(groupTopic, true, consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		log.add(delivery{member: id, partition: m.Partition, offset: m.Offset, ms: time.Now().UnixMilli()})
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &kafkakitMember{id: id, c: c, cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- c.Run(ctx) }()
	t.Cleanup(func() { m.leave(t) })
	return m
}

func (m *kafkakitMember) name() string { return m.id }

func (m *kafkakitMember) failed() error { return nil } // Run's error is checked by leave

func (m *kafkakitMember) owned() ([]int32, bool) {
	st := m.c.Status()
	var out []int32
	for _, s := range st.Subscriptions {
		for _, p := range s.Partitions {
			out = append(out, p.Partition)
		}
	}
	return out, st.Ready
}

// leave ends Run and closes the consumer, which lets its handlers finish,
// commits and leaves the group. A second call does nothing.
func (m *kafkakitMember) leave(t *testing.T) {
	t.Helper()
	if m.cancel == nil {
		return
	}
	m.cancel()
	m.cancel = nil
	select {
	case <-m.done:
	case <-time.After(60 * time.Second):
		t.Errorf("%s: Run did not return within 60s of cancel", m.id)
	}
	if err := m.c.Close(); err != nil {
		t.Errorf("%s: Close: %v", m.id, err)
	}
}

// javaMember is Main's member command in a process of its own.
type javaMember struct {
	id     string
	logf   func(format string, args ...any)
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr lockedBuffer
	exited chan struct{}

	mu     sync.Mutex
	joined bool
	parts  []int32
	left   bool
	killed bool
}

// javaEvent is one line of Main's member command.
type javaEvent struct {
	Event      string  `json:"event"`
	Partitions []int32 `json:"partitions"`
	Partition  int32   `json:"partition"`
	Offset     int64   `json:"offset"`
	MS         int64   `json:"ms"`
}

func startJava(t *testing.T, bootstrap, group, mode string, log *deliveries, id string) *javaMember {
	t.Helper()
	m := &javaMember{id: id, logf: t.Logf, cmd: javaCommand(mainClass, "member", bootstrap, groupTopic, group, mode), exited: make(chan struct{})}
	m.cmd.Stderr = &m.stderr
	var err error
	if m.stdin, err = m.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := m.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", id, err)
	}
	go func() {
		defer close(m.exited)
		eachLine(stdout, func(line []byte) { m.event(line, log) })
		_ = m.cmd.Wait()
	}()
	t.Cleanup(func() {
		m.stdin.Close()
		select {
		case <-m.exited:
		case <-time.After(60 * time.Second):
			_ = m.cmd.Process.Kill()
			<-m.exited
		}
	})
	return m
}

func (m *javaMember) event(line []byte, log *deliveries) {
	var e javaEvent
	if err := json.Unmarshal(line, &e); err != nil {
		return // not one of Main's lines
	}
	switch e.Event {
	case "record":
		log.add(delivery{member: m.id, partition: e.Partition, offset: e.Offset, ms: e.MS})
	case "assignment":
		m.logf("%s owns %v", m.id, e.Partitions)
		m.mu.Lock()
		m.joined, m.parts = true, e.Partitions
		m.mu.Unlock()
	case "left":
		m.mu.Lock()
		m.left = true
		m.mu.Unlock()
	}
}

func (m *javaMember) name() string { return m.id }

func (m *javaMember) failed() error {
	select {
	case <-m.exited:
	default:
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.left || m.killed {
		return nil
	}
	return fmt.Errorf("%s ended: %v\n%s", m.id, m.cmd.ProcessState, tail(m.stderr.String(), 4000))
}

// tail is the end of s, at most n bytes.
func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func (m *javaMember) owned() ([]int32, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.parts), m.joined
}

// leave closes the member's standard input, on which it closes its
// consumer (a graceful leave, after its last commit), and waits for it to
// end.
func (m *javaMember) leave(t *testing.T) {
	t.Helper()
	m.stdin.Close()
	select {
	case <-m.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not end within 60s of its standard input closing\n%s", m.id, m.stderr.String())
	}
	m.mu.Lock()
	left := m.left
	m.mu.Unlock()
	if !left {
		t.Fatalf("%s ended without leaving the group: %v\n%s", m.id, m.cmd.ProcessState, m.stderr.String())
	}
}

// kill ends the member with SIGKILL: no commit, no leave; the group
// notices when its session times out.
func (m *javaMember) kill(t *testing.T) {
	t.Helper()
	m.mu.Lock()
	m.killed = true
	m.mu.Unlock()
	if err := m.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-m.exited
}
