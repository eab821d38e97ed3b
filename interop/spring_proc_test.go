//go:build spring

package interop

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
)

// springDir is the Maven module of the Spring for Apache Kafka program the
// tests drive.
const springDir = "spring"

// requireSpring skips the test unless it can run for real: a real Apache
// Kafka cluster named by KAFKAKIT_TEST_BROKERS (Spring's client speaks to
// it, not to kfake), Java and Maven. It builds the module when its build
// is missing or older than its sources, and returns the command that
// runs the program.
func requireSpring(t *testing.T) []string {
	t.Helper()
	if !kafkatest.External() {
		t.Skip("needs a real Apache Kafka cluster: set KAFKAKIT_TEST_BROKERS (go run ./internal/realkafka/cmd run -env-file FILE; set -a; . FILE)")
	}
	for _, tool := range []string{"java", "mvn"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s on PATH (Java 17 and Maven): %v", tool, err)
		}
	}
	buildOnce.Do(func() { buildErr = buildSpring() })
	if buildErr != nil {
		t.Fatalf("build the Spring program: %v", buildErr)
	}
	cp, err := os.ReadFile(filepath.Join(springDir, "target", "classpath.txt"))
	if err != nil {
		t.Fatal(err)
	}
	classes, err := filepath.Abs(filepath.Join(springDir, "target", "classes"))
	if err != nil {
		t.Fatal(err)
	}
	return []string{"java", "-Xmx256m", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", classes + string(os.PathListSeparator) + strings.TrimSpace(string(cp)), "io.github.kafkakit.spring.Main"}
}

var (
	buildOnce sync.Once
	buildErr  error
)

// buildSpring runs `mvn -q -B package` unless target/classpath.txt is
// newer than the pom and every source file (CI builds the module before
// the tests, which then reuse it).
func buildSpring() error {
	built, err := os.Stat(filepath.Join(springDir, "target", "classpath.txt"))
	if err == nil {
		stale := false
		_ = filepath.WalkDir(springDir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() && d.Name() == "target" {
				return filepath.SkipDir
			}
			if info, err := d.Info(); err == nil && !d.IsDir() && info.ModTime().After(built.ModTime()) {
				stale = true
			}
			return nil
		})
		if !stale {
			return nil
		}
	}
	cmd := exec.Command("mvn", "-q", "-B", "package")
	cmd.Dir = springDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("mvn -q -B package: %v\n%s", err, out)
	}
	return nil
}

// proc is a program the test started: the Spring program or kafkakit.
// Every line it prints that is a JSON object is kept, for wait to find.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when its output is read to the end

	mu     sync.Mutex
	lines  []map[string]any
	tail   []string // the last lines of any kind, for failure messages
	notify chan struct{}
}

// startProc starts argv with env added to the test's environment and
// stops it when the test ends.
func startProc(t *testing.T, name string, env []string, argv ...string) *proc {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	r, w := io.Pipe()
	cmd.Stdout, cmd.Stderr = w, w
	p := &proc{name: name, cmd: cmd, done: make(chan struct{}), notify: make(chan struct{}, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go p.read(r)
	go func() {
		err := cmd.Wait()
		w.CloseWithError(fmt.Errorf("%s ended: %v", name, err))
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("%s's last lines:\n%s", name, strings.Join(p.lastLines(), "\n"))
		}
	})
	return p
}

func (p *proc) read(r io.Reader) {
	defer close(p.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		var m map[string]any
		isJSON := json.Unmarshal([]byte(line), &m) == nil
		p.mu.Lock()
		if isJSON {
			p.lines = append(p.lines, m)
		}
		p.tail = append(p.tail, line)
		if len(p.tail) > 60 {
			p.tail = p.tail[1:]
		}
		p.mu.Unlock()
		select {
		case p.notify <- struct{}{}:
		default:
		}
	}
}

func (p *proc) lastLines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.tail)
}

// all returns the JSON lines printed so far that match.
func (p *proc) all(match func(map[string]any) bool) []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []map[string]any
	for _, m := range p.lines {
		if match(m) {
			out = append(out, m)
		}
	}
	return out
}

// waitN waits until n JSON lines that match have been printed and returns
// them, failing the test after timeout or when the program ends first.
func (p *proc) waitN(t *testing.T, n int, timeout time.Duration, match func(map[string]any) bool) []map[string]any {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if got := p.all(match); len(got) >= n {
			return got[:n]
		}
		select {
		case <-p.notify:
		case <-p.done:
			if got := p.all(match); len(got) >= n {
				return got[:n]
			}
			t.Fatalf("%s ended before printing %d matching lines; its last lines:\n%s", p.name, n, strings.Join(p.lastLines(), "\n"))
		case <-deadline.C:
			t.Fatalf("%s printed %d matching lines in %v, want %d; its last lines:\n%s", p.name, len(p.all(match)), timeout, n, strings.Join(p.lastLines(), "\n"))
		}
	}
}

// event matches the Spring program's lines of one event (and topic, when
// not empty).
func event(name, topic string) func(map[string]any) bool {
	return func(m map[string]any) bool {
		return m["event"] == name && (topic == "" || m["topic"] == topic)
	}
}

// wait waits until the program has ended by itself.
func (p *proc) wait(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("%s did not end within %v", p.name, timeout)
	}
}

// kill ends the program with SIGKILL and waits for it.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Kill()
	<-p.done
}

// stop sends SIGTERM, which makes Spring stop its containers and commit
// and kafkakit shut down as on any SIGTERM, and waits for the end; after
// 60 s it kills the process.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Errorf("%s did not end within 60 s of SIGTERM; killed", p.name)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// springEvent is one line of the Spring program, decoded. Keys, values
// and header values are base64 there, bytes here.
type springEvent struct {
	Event                 string         `json:"event"`
	Topic                 string         `json:"topic"`
	Partition             int32          `json:"partition"`
	Offset                int64          `json:"offset"`
	Timestamp             int64          `json:"timestamp"`
	Key                   []byte         `json:"key"`
	Value                 []byte         `json:"value"`
	Headers               []springHeader `json:"headers"`
	At                    int64          `json:"at"`
	Attempts              *int           `json:"attempts"`
	BackoffTimestamp      *int64         `json:"backoff_timestamp"`
	OriginalTimestamp     *int64         `json:"original_timestamp"`
	OriginalTopic         string         `json:"original_topic"`
	OriginalPartition     int32          `json:"original_partition"`
	OriginalOffset        int64          `json:"original_offset"`
	OriginalTimestampType string         `json:"original_timestamp_type"`
	OriginalGroup         string         `json:"original_consumer_group"`
	ExceptionFQCN         string         `json:"exception_fqcn"`
	ExceptionCauseFQCN    *string        `json:"exception_cause_fqcn"`
	ExceptionMessage      string         `json:"exception_message"`
}

type springHeader struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
}

// decodeEvents turns the lines waitN returned into springEvents.
func decodeEvents(t *testing.T, lines []map[string]any) []springEvent {
	t.Helper()
	out := make([]springEvent, len(lines))
	for i, m := range lines {
		b, _ := json.Marshal(m)
		if err := json.Unmarshal(b, &out[i]); err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
	}
	return out
}
