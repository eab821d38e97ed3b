package bench_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/internal/bench"
)

// The no-op server must answer every push as kafkakit would, so that the
// load client counts each message acknowledged and the ceiling is
// measured on the same exchange.
func TestNoopAnswersEveryMessage(t *testing.T) {
	url, stop, err := bench.StartNoop()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for _, batch := range []int{0, 10} {
		w := bench.Workload{Topic: "t", Messages: 95, Size: 64, Concurrency: 3, Batch: batch}
		r, err := bench.HTTPNoop(context.Background(), url, w)
		if err != nil {
			t.Fatalf("batch %d: %v", batch, err)
		}
		if r.Messages != w.Messages || r.Refused != 0 {
			t.Errorf("batch %d: %d acknowledged, %d refused; want %d and 0", batch, r.Messages, r.Refused, w.Messages)
		}
	}
}

func TestProcessCPUGrowsWithWork(t *testing.T) {
	start := bench.ProcessCPU(os.Getpid())
	deadline := time.Now().Add(10 * time.Second)
	x := 0
	for bench.ProcessCPU(os.Getpid()) <= start {
		if time.Now().After(deadline) {
			t.Fatalf("the process's CPU time stayed at %v while it worked", start)
		}
		for i := range 1_000_000 {
			x ^= i
		}
	}
	_ = x
	if got := bench.ProcessCPU(-1); got != 0 {
		t.Errorf("ProcessCPU of no process = %v, want 0", got)
	}
}

func TestHTTPCeilingSplitsTheCost(t *testing.T) {
	raw := bench.Result{Name: "raw", Messages: 1000, Elapsed: time.Second, CPU: 10 * time.Millisecond}
	noop := bench.Result{Name: "noop", Messages: 1000, Elapsed: 2 * time.Second, CPU: 20 * time.Millisecond}
	kk := bench.Result{Name: "kafkakit", Messages: 1000, Elapsed: 4 * time.Second, CPU: 35 * time.Millisecond}
	got := bench.HTTPCeiling(raw, noop, kk)
	for _, want := range []string{
		"noop reaches 0.50 of raw",
		"kafkakit reached 0.25 (0.50 of the ceiling)",
		"raw 10.00µs + noop 20.00µs = 30.00µs",
		"kafkakit 35.00µs, of which kafkakit's own 5.00µs",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("HTTPCeiling = %q, want it to say %q", got, want)
		}
	}
}

func TestHTTPCeilingWithoutCPUFigures(t *testing.T) {
	raw := bench.Result{Name: "raw", Messages: 1000, Elapsed: time.Second, CPU: 10 * time.Millisecond}
	noop := bench.Result{Name: "noop", Messages: 1000, Elapsed: 2 * time.Second, CPU: 20 * time.Millisecond}
	kk := bench.Result{Name: "kafkakit", Messages: 1000, Elapsed: 4 * time.Second} // a service elsewhere
	got := bench.HTTPCeiling(raw, noop, kk)
	if !strings.Contains(got, "ceiling: noop reaches 0.50 of raw") || strings.Contains(got, "CPU per message") {
		t.Errorf("HTTPCeiling = %q, want the ceiling without a CPU split", got)
	}
}
