// Package bench measures kafkakit against raw franz-go on the same broker
// and workload, in the same run: `kafkakit bench` and the go test
// benchmarks both drive it. Absolute numbers drift on shared machines;
// the ratio to the baseline is what to read.
package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kafkakit/kafkakit/config"
)

// Workload describes what to send or consume.
type Workload struct {
	Topic       string
	Messages    int
	Size        int // value bytes
	Keys        int // distinct keys; 0 sends no keys
	Partitions  int
	Concurrency int  // synchronous senders, HTTP connections, or handler workers
	Async       bool // produce: SendAsync; HTTP: Prefer: respond-async
	Batch       int  // messages per HTTP send-batch; 0 uses /kafka/send
	Streams     int  // HTTP: this many POST /kafka/stream at once instead of send requests
	// ReadDelay makes stream clients slow readers: each waits this long
	// after every answer it reads.
	ReadDelay   time.Duration
	Atomic      bool // HTTP send-batch: each batch {"atomic": true}, one transaction
	HandlerWait time.Duration
	// Progress, if set, counts messages done as the run goes.
	Progress *atomic.Int64
}

func (w Workload) progress(n int) {
	if w.Progress != nil {
		w.Progress.Add(int64(n))
	}
}

// Result is one measured run.
type Result struct {
	Name     string
	Messages int
	Bytes    int64
	Elapsed  time.Duration
	// Latencies holds one sample per message where measured: send to
	// acknowledgement, or request to answer; sorted once the run is over.
	Latencies []time.Duration
	Mallocs   uint64 // heap allocations during the run, whole process
	// CPU is the processor time (user and system) the run took, of this
	// whole process and of a spawned service. Unlike throughput it barely
	// moves when a shared machine is busy, and per message it shows where
	// the cost of a path goes: a run that takes the CPU of two others
	// cannot be faster than both together on the same cores. It covers
	// the whole run, set-up such as joining a group included; 0 when not
	// measured.
	CPU     time.Duration
	PeakRSS int64 // bytes; the process's high-water mark (or a child's)
	Refused int   // messages answered 503/429 (HTTP overload)
	Note    string
}

// MsgsPerSec is the throughput.
func (r Result) MsgsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Messages) / r.Elapsed.Seconds()
}

// MBPerSec is the throughput of values.
func (r Result) MBPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Bytes) / 1e6 / r.Elapsed.Seconds()
}

// Percentile returns the q-th latency quantile (0 < q < 1), 0 without
// samples.
func (r Result) Percentile(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	s := r.Latencies
	if !slices.IsSorted(s) {
		s = slices.Clone(s)
		slices.Sort(s)
	}
	return s[min(int(q*float64(len(s))), len(s)-1)]
}

// CPUPerMsg is the processor time per message, 0 without messages.
func (r Result) CPUPerMsg() time.Duration {
	if r.Messages == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Messages)
}

// AllocsPerMsg is heap allocations per message, whole process.
func (r Result) AllocsPerMsg() float64 {
	if r.Messages == 0 {
		return 0
	}
	return float64(r.Mallocs) / float64(r.Messages)
}

// measure runs fn and fills in elapsed time, allocations and peak RSS.
func measure(name string, w Workload, fn func() (messages int, lat []time.Duration, err error)) (Result, error) {
	return measureSpan(name, w, func() (int, []time.Duration, time.Duration, error) {
		n, lat, err := fn()
		return n, lat, 0, err
	})
}

// measureSpan is measure for runs that time themselves: a non-zero span
// replaces the wall time of fn, to leave out set-up such as joining a
// group.
func measureSpan(name string, w Workload, fn func() (messages int, lat []time.Duration, span time.Duration, err error)) (Result, error) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu := ProcessCPU(os.Getpid())
	start := time.Now()
	n, lat, span, err := fn()
	elapsed := time.Since(start)
	cpu = ProcessCPU(os.Getpid()) - cpu
	slices.Sort(lat) // once, for every percentile asked of the result
	if span > 0 {
		elapsed = span
	}
	runtime.ReadMemStats(&after)
	return Result{
		Name: name, Messages: n, Bytes: int64(n) * int64(w.Size), Elapsed: elapsed, Latencies: lat,
		Mallocs: after.Mallocs - before.Mallocs, CPU: cpu, PeakRSS: PeakRSS(os.Getpid()),
	}, err
}

// PeakRSS reads a process's resident set high-water mark from /proc, 0
// where that is not available.
func PeakRSS(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// ProcessCPU reads the processor time a process has used so far, user
// and system, from /proc; 0 where that is not available. Its resolution
// is the kernel's clock tick (usually 10ms), fine for runs of seconds.
func ProcessCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name in parentheses may hold anything, ") " included:
	// the fields start after the last parenthesis, with the state, then
	// 10 more before utime and stime.
	stat := string(b)
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0
	}
	f := strings.Fields(stat[end+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// clockTicks is the kernel's USER_HZ, the unit of /proc's CPU times:
// 100 on every Linux architecture Go runs on.
const clockTicks = 100

// value builds message i's value: its number, padded to size.
func value(i, size int) []byte {
	v := make([]byte, max(size, 12))
	copy(v, strconv.Itoa(i))
	for j := len(strconv.Itoa(i)); j < len(v); j++ {
		v[j] = 'x'
	}
	return v[:max(size, len(strconv.Itoa(i)))]
}

// key builds message i's key, nil without keys.
func key(i, keys int) []byte {
	if keys <= 0 {
		return nil
	}
	return []byte("key-" + strconv.Itoa(i%keys))
}

// split runs n units of work on c goroutines, each given the indexes it
// owns, collecting per-goroutine latencies.
func split(n, c int, work func(i int) (time.Duration, error)) (int, []time.Duration, error) {
	c = max(c, 1)
	var next atomic.Int64
	var done atomic.Int64
	var mu sync.Mutex
	var firstErr error
	lats := make([][]time.Duration, c)
	var wg sync.WaitGroup
	for g := range c {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				d, err := work(i)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				lats[g] = append(lats[g], d)
				done.Add(1)
			}
		})
	}
	wg.Wait()
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	return int(done.Load()), all, firstErr
}

// Table formats results, each with its ratio to the baseline if there is
// one.
func Table(results []Result, baseline *Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-28s %10s %12s %9s %9s %9s %9s %9s %11s %10s %s\n",
		"run", "messages", "msgs/s", "MB/s", "p50", "p99", "p999", "CPU/msg", "allocs/msg", "peak RSS", "vs baseline")
	for _, r := range results {
		ratio := ""
		if baseline != nil && baseline.MsgsPerSec() > 0 {
			ratio = fmt.Sprintf("%.2fx", r.MsgsPerSec()/baseline.MsgsPerSec())
		}
		fmt.Fprintf(&b, "%-28s %10d %12.0f %9.1f %9s %9s %9s %9s %11.1f %9.0fM %s",
			r.Name, r.Messages, r.MsgsPerSec(), r.MBPerSec(),
			round(r.Percentile(0.50)), round(r.Percentile(0.99)), round(r.Percentile(0.999)),
			cpuPerMsg(r.CPUPerMsg()), r.AllocsPerMsg(), float64(r.PeakRSS)/(1<<20), ratio)
		if r.Refused > 0 {
			fmt.Fprintf(&b, " (%d refused with 503/429)", r.Refused)
		}
		if r.Note != "" {
			fmt.Fprintf(&b, " %s", r.Note)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// cpuPerMsg shows a processor time per message in microseconds, with
// the precision such small figures need.
func cpuPerMsg(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return micros(d)
}

func micros(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', 2, 64) + "µs"
}

func round(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	}
	return d.Round(10 * time.Microsecond).String()
}

// quietConfig is cfg with timeouts fit for a benchmark against a local
// broker.
func quietConfig(cfg config.Kafka) config.Kafka {
	cfg.MaxWaitTime = 100 * time.Millisecond
	return cfg
}

// ctxOrTimeout bounds a run, so that a broken broker cannot hang it.
func ctxOrTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, 30*time.Minute)
}

// Median returns the result with the median throughput.
func Median(rs []Result) Result {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b Result) int {
		switch {
		case a.MsgsPerSec() < b.MsgsPerSec():
			return -1
		case a.MsgsPerSec() > b.MsgsPerSec():
			return 1
		}
		return 0
	})
	return s[len(s)/2]
}

// Named returns the results called name.
func Named(rs []Result, name string) []Result {
	var out []Result
	for _, r := range rs {
		if r.Name == name {
			out = append(out, r)
		}
	}
	return out
}

// HTTPCeiling sets an HTTP run beside raw produce and a no-op net/http
// server pushed the same way (noop). The no-op's throughput is a ceiling
// no handler can pass on this machine; the CPU per message splits the
// HTTP run's cost into raw produce, net/http with the loopback, and what
// is left: kafkakit's own.
func HTTPCeiling(raw, noop, kafkakit Result) string {
	if raw.MsgsPerSec() == 0 || noop.MsgsPerSec() == 0 {
		return ""
	}
	out := fmt.Sprintf("ceiling: %s reaches %.2f of %s; %s reached %.2f (%.2f of the ceiling)\n",
		noop.Name, noop.MsgsPerSec()/raw.MsgsPerSec(), raw.Name,
		kafkakit.Name, kafkakit.MsgsPerSec()/raw.MsgsPerSec(), kafkakit.MsgsPerSec()/noop.MsgsPerSec())
	rawCPU, noopCPU, kkCPU := raw.CPUPerMsg(), noop.CPUPerMsg(), kafkakit.CPUPerMsg()
	if rawCPU == 0 || noopCPU == 0 || kkCPU == 0 {
		return out // a figure was not measured: no split
	}
	return out + fmt.Sprintf("CPU per message: %s %s + %s %s = %s; %s %s, of which kafkakit's own %s\n",
		raw.Name, micros(rawCPU), noop.Name, micros(noopCPU), micros(rawCPU+noopCPU),
		kafkakit.Name, micros(kkCPU), micros(kkCPU-rawCPU-noopCPU))
}
