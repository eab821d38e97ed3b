//go:build interop

package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
)

const (
	mixedTopic      = "orders"
	mixedPartitions = 4
	mixedBatch      = 40 // records per phase, 10 per partition
)

// TestMixedGroupWithKafkajs runs kafkakit and kafkajs 2.2.4 consumers in
// one group, as during a rolling migration from the NestJS module, through
// a join and a leave of each side: kafkakit leads when kafkajs joins,
// kafkajs leads when kafkakit joins. After each step the two share the
// topic's partitions and every record produced is consumed. The second
// case offers cooperative-sticky first, the last migration step of
// docs/migrating-from-nestjs.md: the group runs kafkajs's protocol while a
// kafkajs member is in it and cooperative-sticky before and after.
func TestMixedGroupWithKafkajs(t *testing.T) {
	for _, assigners := range [][]string{
		{config.AssignerKafkajsRoundRobin},
		{config.AssignerCooperativeSticky, config.AssignerKafkajsRoundRobin},
	} {
		t.Run(strings.Join(assigners, ","), func(t *testing.T) { testMixedGroup(t, assigners, startKafkajs) })
	}
}

// TestMixedGroupWithLibrdkafka does the same with kcat's balanced consumer
// (librdkafka, whose default assignors are range,roundrobin) and a
// kafkakit member offering range.
func TestMixedGroupWithLibrdkafka(t *testing.T) {
	testMixedGroup(t, []string{config.AssignerRange}, startKcat)
}

// otherMember is a group member of another client.
type otherMember interface {
	// assignment returns the partitions the member last took, and
	// whether it has joined at all.
	assignment() ([]int32, bool)
	// leads reports whether the member led its last join, and whether the
	// client tells.
	leads() (leader, known bool)
	// leave leaves the group and waits for the process to end.
	leave(t *testing.T)
}

func testMixedGroup(t *testing.T, assigners []string, start func(t *testing.T, addr, group string, seen *tally) otherMember) {
	cluster := kafkatest.NewCluster(t, kafkatest.Topic(mixedTopic, mixedPartitions))
	cfg := cluster.Config()
	cfg.GroupID = "mixed-" + strings.Join(assigners, "-")
	cfg.Assigners = assigners
	seen := newTally()
	batch := 0
	produceAndConsume := func(step string, members ...string) {
		t.Helper()
		batch++
		values := produceBatch(t, cfg, batch)
		waitConsumed(t, seen, values, step)
		for _, m := range members {
			if seen.count(m, fmt.Sprintf("b%d-", batch)) == 0 {
				t.Errorf("%s: %s consumed none of batch %d", step, m, batch)
			}
		}
	}
	checkLeader := func(step string, o otherMember, want bool) {
		t.Helper()
		if leader, known := o.leads(); known && leader != want {
			t.Errorf("%s: the other client leads: %v, want %v", step, leader, want)
		}
	}

	a := startKafkakit(t, cfg, seen, "kafkakit-a")
	waitShared(t, a, nil, "kafkakit alone")
	produceAndConsume("kafkakit alone", "kafkakit-a")

	other := start(t, cluster.Addrs()[0], cfg.GroupID, seen)
	waitShared(t, a, other, "other joins")
	checkLeader("other joins", other, false)
	produceAndConsume("other joins", "kafkakit-a", "other")

	a.stop(t)
	waitShared(t, nil, other, "kafkakit leaves")
	produceAndConsume("kafkakit leaves", "other")

	b := startKafkakit(t, cfg, seen, "kafkakit-b")
	waitShared(t, b, other, "kafkakit joins")
	checkLeader("kafkakit joins", other, true)
	produceAndConsume("kafkakit joins", "kafkakit-b", "other")

	other.leave(t)
	waitShared(t, b, nil, "other leaves")
	produceAndConsume("other leaves", "kafkakit-b")
	b.stop(t)

	t.Logf("%d records, %d deliveries (redeliveries after a rebalance are allowed: at least once)",
		batch*mixedBatch, seen.total())
}

// produceBatch writes mixedBatch records spread evenly over the
// partitions and returns their values.
func produceBatch(t *testing.T, cfg config.Kafka, batch int) []string {
	t.Helper()
	msgs := make([]producer.Message, mixedBatch)
	values := make([]string, mixedBatch)
	for i := range msgs {
		values[i] = fmt.Sprintf("b%d-%d", batch, i)
		msgs[i] = producer.Message{Topic: mixedTopic, Partition: new(int32(i % mixedPartitions)), Value: []byte(values[i])}
	}
	send(t, cfg, msgs...)
	return values
}

func waitConsumed(t *testing.T, seen *tally, values []string, step string) {
	t.Helper()
	kafkatest.WaitFor(t, 60*time.Second, func() error {
		if missing := seen.missing(values); len(missing) > 0 {
			return fmt.Errorf("%s: %d of %d records not consumed, e.g. %s", step, len(missing), len(values), missing[0])
		}
		return nil
	})
}

// waitShared waits until the members given (nil for one that is not in the
// group) own every partition between them, each partition once.
func waitShared(t *testing.T, kk *kafkakitMember, other otherMember, step string) {
	t.Helper()
	kafkatest.WaitFor(t, 60*time.Second, func() error {
		var mine, theirs []int32
		if kk != nil {
			mine = kk.partitions()
		}
		if other != nil {
			var joined bool
			if theirs, joined = other.assignment(); !joined {
				return fmt.Errorf("%s: the other client has not joined; %v", step, other)
			}
		}
		owned := slices.Concat(mine, theirs)
		slices.Sort(owned)
		if want := []int32{0, 1, 2, 3}; !slices.Equal(owned, want) {
			return fmt.Errorf("%s: members own partitions %v, want %v once each", step, owned, want)
		}
		if kk != nil && other != nil && (len(mine) == 0 || len(theirs) == 0) {
			return fmt.Errorf("%s: one member owns every partition", step)
		}
		return nil
	})
}

// tally counts deliveries per member and record value.
type tally struct {
	mu   sync.Mutex
	seen map[string]map[string]int // member -> value -> deliveries
}

func newTally() *tally { return &tally{seen: map[string]map[string]int{}} }

func (s *tally) add(member, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[member] == nil {
		s.seen[member] = map[string]int{}
	}
	s.seen[member][value]++
}

// count is how many distinct values with prefix member consumed.
func (s *tally) count(member, prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for v := range s.seen[member] {
		if strings.HasPrefix(v, prefix) {
			n++
		}
	}
	return n
}

func (s *tally) missing(values []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, v := range values {
		found := false
		for _, m := range s.seen {
			found = found || m[v] > 0
		}
		if !found {
			out = append(out, v)
		}
	}
	return out
}

func (s *tally) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.seen {
		for _, c := range m {
			n += c
		}
	}
	return n
}

type kafkakitMember struct {
	c      *consumer.Consumer
	cancel context.CancelFunc
	done   chan error
}

func startKafkakit(t *testing.T, cfg config.Kafka, seen *tally, name string) *kafkakitMember {
	t.Helper()
	c, err := consumer.New(cfg, consumer.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(mixedTopic, true, consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		seen.add(name, string(m.Value))
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &kafkakitMember{c: c, cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- c.Run(ctx) }()
	t.Cleanup(func() { m.stop(t) })
	return m
}

func (m *kafkakitMember) partitions() []int32 {
	var out []int32
	for _, s := range m.c.Status().Subscriptions {
		for _, p := range s.Partitions {
			out = append(out, p.Partition)
		}
	}
	return out
}

// stop ends Run and closes the consumer, which commits and leaves the
// group. A second call does nothing.
func (m *kafkakitMember) stop(t *testing.T) {
	t.Helper()
	if m.cancel == nil {
		return
	}
	m.cancel()
	m.cancel = nil
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		t.Error("kafkakit consumer: Run did not return within 30s of cancel")
	}
	if err := m.c.Close(); err != nil {
		t.Errorf("kafkakit consumer: Close: %v", err)
	}
}

// jsEvent is one line member.js prints.
type jsEvent struct {
	Event      string             `json:"event"`
	Leader     bool               `json:"leader"`
	MemberID   string             `json:"memberId"`
	Protocol   string             `json:"protocol"`
	Assignment map[string][]int32 `json:"assignment"`
	Partition  int32              `json:"partition"`
	Value      string             `json:"value"`
}

type kafkajsMember struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr lockedBuffer
	exited chan struct{}

	mu    sync.Mutex
	joins []jsEvent
	left  bool
}

func startKafkajs(t *testing.T, addr, group string, seen *tally) otherMember {
	t.Helper()
	script, _ := filepath.Abs("kafkajs/member.js")
	m := &kafkajsMember{cmd: exec.Command("node", script, addr, mixedTopic, group), exited: make(chan struct{})}
	m.cmd.Dir = "kafkajs"
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
		t.Fatalf("start kafkajs member: %v", err)
	}
	go func() {
		defer close(m.exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var e jsEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				continue
			}
			m.mu.Lock()
			switch e.Event {
			case "join":
				m.joins = append(m.joins, e)
			case "message":
				seen.add("other", e.Value)
			case "left":
				m.left = true
			}
			m.mu.Unlock()
		}
		_ = m.cmd.Wait()
	}()
	t.Cleanup(func() {
		m.stdin.Close()
		select {
		case <-m.exited:
		case <-time.After(30 * time.Second):
			_ = m.cmd.Process.Kill()
			<-m.exited
		}
	})
	return m
}

// lockedBuffer is a bytes.Buffer that a process writes while a test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (m *kafkajsMember) lastJoin() (jsEvent, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.joins) == 0 {
		return jsEvent{}, false
	}
	return m.joins[len(m.joins)-1], true
}

// assignment also checks the protocol: kafkajs knows only its own.
func (m *kafkajsMember) assignment() ([]int32, bool) {
	j, ok := m.lastJoin()
	if !ok || j.Protocol != "RoundRobinAssigner" {
		return nil, false
	}
	return j.Assignment[mixedTopic], true
}

func (m *kafkajsMember) leads() (bool, bool) {
	j, ok := m.lastJoin()
	return j.Leader, ok
}

func (m *kafkajsMember) String() string { return "kafkajs errors: " + m.stderr.String() }

// leave makes the member disconnect, which commits and leaves the group,
// and waits for the process to end.
func (m *kafkajsMember) leave(t *testing.T) {
	t.Helper()
	m.stdin.Close()
	select {
	case <-m.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("kafkajs member did not leave within 30s\n%s", m.stderr.String())
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.left {
		t.Errorf("kafkajs member exited without leaving cleanly: %v\n%s", m.cmd.ProcessState, m.stderr.String())
	}
}

// kcatMember is kcat's balanced consumer (-G): librdkafka with its default
// assignors, range,roundrobin. kcat reports each rebalance on stderr:
//
//	% Group g rebalanced (memberid m): assigned: orders [0], orders [1]
type kcatMember struct {
	cmd    *exec.Cmd
	exited chan struct{}

	mu       sync.Mutex
	assigned []int32
	joined   bool
	log      []string
}

var kcatPartition = regexp.MustCompile(regexp.QuoteMeta(mixedTopic) + ` \[(\d+)\]`)

func startKcat(t *testing.T, addr, group string, seen *tally) otherMember {
	t.Helper()
	m := &kcatMember{exited: make(chan struct{})}
	m.cmd = exec.Command("kcat", "-b", addr, "-G", group, "-X", "auto.offset.reset=earliest", "-u", "-f", "%s\\n",
		"-X", "session.timeout.ms=10000", "-X", "heartbeat.interval.ms=500", "-X", "fetch.wait.max.ms=100", "-X", "auto.commit.interval.ms=100", mixedTopic)
	stdout, err := m.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := m.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("start kcat: %v", err)
	}
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			seen.add("other", sc.Text())
		}
	}()
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			m.note(sc.Text())
		}
	}()
	go func() {
		readers.Wait()
		_ = m.cmd.Wait()
		close(m.exited)
	}()
	t.Cleanup(func() {
		_ = m.cmd.Process.Kill()
		<-m.exited
	})
	return m
}

// note follows the assignment through kcat's rebalance lines.
func (m *kcatMember) note(line string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.log = append(m.log, line)
	switch {
	case strings.Contains(line, "rebalanced") && strings.Contains(line, "assigned:"):
		m.joined, m.assigned = true, nil
		for _, p := range kcatPartition.FindAllStringSubmatch(line, -1) {
			n, _ := strconv.Atoi(p[1])
			m.assigned = append(m.assigned, int32(n))
		}
	case strings.Contains(line, "rebalanced") && strings.Contains(line, "revoked:"):
		m.assigned = nil
	}
}

func (m *kcatMember) assignment() ([]int32, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.assigned), m.joined
}

// leads is unknown: kcat does not say.
func (m *kcatMember) leads() (bool, bool) { return false, false }

func (m *kcatMember) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return "kcat says: " + strings.Join(m.log, "\n")
}

// leave stops kcat with SIGTERM, on which it closes its consumer: a final
// commit and a LeaveGroup.
func (m *kcatMember) leave(t *testing.T) {
	t.Helper()
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("kcat did not exit within 30s of SIGTERM; %v", m)
	}
}
