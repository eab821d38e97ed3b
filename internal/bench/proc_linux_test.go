package bench_test

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/internal/bench"
)

// /proc names a process by its command in parentheses, which may hold
// ") " and digits itself. The process measured is this test binary under
// an odd name, idle until its stdin closes.
func TestProcessCPUOfAnOddlyNamedProcess(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	// Five numbers shift a parse from the first parenthesis onto the
	// process flags, read as hours of CPU.
	odd := filepath.Join(t.TempDir(), "x) 1 2 3 4 5")
	if err := os.WriteFile(odd, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(odd, "-test.run=^TestIdleUntilStdinCloses$")
	cmd.Env = append(os.Environ(), "KAFKAKIT_IDLE_HELPER=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	stat := fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if b, err := os.ReadFile(stat); err == nil && strings.Contains(string(b), "(x) 1 2") {
			break // it runs under its odd name
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never showed the process's odd name", stat)
		}
		time.Sleep(time.Millisecond)
	}
	if got := bench.ProcessCPU(cmd.Process.Pid); got > time.Second {
		t.Errorf("an idle process has used %v of CPU, by ProcessCPU", got)
	}
}

// TestIdleUntilStdinCloses is the process the test above measures; run
// normally it does nothing.
func TestIdleUntilStdinCloses(t *testing.T) {
	if os.Getenv("KAFKAKIT_IDLE_HELPER") != "1" {
		return
	}
	io.Copy(io.Discard, os.Stdin)
}
