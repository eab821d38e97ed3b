// Package javaclient checks kafkakit beside the Java client on a real
// Apache Kafka node: Java KafkaConsumer members sharing a group with
// kafkakit's consumer, atomic batches sent over HTTP as a Java
// read_committed reader sees them, and Kafka's own performance tools as
// the yardstick of kafkakit's speed.
//
// The Java side is the Maven module in this directory (pom.xml, Main.java).
// The tests run against the cluster KAFKAKIT_TEST_BROKERS names (the
// real-cluster tier, .ci/realkafka.sh) and skip without one, or without
// Java and Maven. They build the module with `mvn -q -B package` when its
// classes are missing or older than its sources.
package javaclient

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binary.path != "" {
		os.RemoveAll(filepath.Dir(binary.path))
	}
	os.Exit(code)
}

// requireJava skips t without a real cluster or without Java and Maven,
// and otherwise builds the Java module once per test binary.
func requireJava(t *testing.T) {
	t.Helper()
	if !kafkatest.External() {
		t.Skip("needs a real cluster: KAFKAKIT_TEST_BROKERS is unset (see docs/development.md, the real-cluster tier)")
	}
	for _, tool := range []string{"java", "mvn"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs Java 17 and Maven: %s is not on the PATH", tool)
		}
	}
	build.Do(func() { build.err = buildModule() })
	if build.err != nil {
		t.Fatalf("build the Java module: %v", build.err)
	}
}

var build struct {
	sync.Once
	err error
}

// buildModule runs `mvn -q -B package` unless target/lib and the compiled
// classes are newer than every source file.
func buildModule() error {
	built, err := os.Stat(filepath.Join("target", "classes", "io", "github", "kafkakit", "interop", "Main.class"))
	if err == nil {
		if _, err := os.Stat(filepath.Join("target", "lib")); err == nil && !newerSources(built.ModTime()) {
			return nil
		}
	}
	cmd := exec.Command("mvn", "-q", "-B", "package")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return &buildError{err: err, out: out}
	}
	return nil
}

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string {
	return "mvn -q -B package: " + e.err.Error() + "\n" + string(e.out)
}

// newerSources reports whether pom.xml or a file under src changed after t.
func newerSources(t time.Time) bool {
	newer := false
	check := func(path string) {
		if fi, err := os.Stat(path); err == nil && fi.ModTime().After(t) {
			newer = true
		}
	}
	check("pom.xml")
	_ = filepath.WalkDir("src", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			check(path)
		}
		return nil
	})
	return newer
}

// javaCommand is `java` with the module's classpath running class with
// args: Main's commands, or one of Kafka's tools.
func javaCommand(class string, args ...string) *exec.Cmd {
	cp := filepath.Join("target", "classes") + string(os.PathListSeparator) + filepath.Join("target", "lib", "*")
	return exec.Command("java", append([]string{"-Xmx256m", "-cp", cp, class}, args...)...)
}

const mainClass = "io.github.kafkakit.interop.Main"

// runJava runs one of Main's commands to its end and returns the JSON
// lines it printed, each decoded into a new T.
func runJava[T any](t *testing.T, timeout time.Duration, args ...string) []T {
	t.Helper()
	cmd := javaCommand(mainClass, args...)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("java %v: %v", args, err)
	}
	timer := time.AfterFunc(timeout, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	var out []T
	eachLine(stdout, func(line []byte) {
		var v T
		if err := json.Unmarshal(line, &v); err != nil {
			t.Errorf("java %s: a line that is not JSON: %q", args[0], line)
			return
		}
		out = append(out, v)
	})
	if err := cmd.Wait(); err != nil {
		t.Fatalf("java %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// eachLine calls fn with each line of r until r ends; lines are bounded
// at 1 MiB, as a test's records are small.
func eachLine(r io.Reader, fn func(line []byte)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fn(sc.Bytes())
	}
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
