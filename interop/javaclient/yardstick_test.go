package javaclient

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/internal/bench"
	"github.com/kafkakit/kafkakit/kafkatest"
)

// TestYardstick runs Kafka's own ProducerPerformance and
// ConsumerPerformance, the Java client at full speed, beside the runs of
// `kafkakit bench produce --async` and `kafkakit bench consume` (the same
// internal/bench functions) and their raw franz-go baselines, on the real
// node, with the same record count, value size, acks and compression;
// each client keeps its other defaults. The runs alternate over rounds,
// each in a new order, and the table gives the medians with the ratio to
// the Java client with its defaults. A second Java producer run batches as
// kafkakit does by default, to tell the client from its defaults. It
// prints the table on standard output (go test -v).
//
// It is a measurement, not a check, and runs only by hand:
//
//	KAFKAKIT_YARDSTICK=1 go test -v -count=1 -timeout 60m -run '^TestYardstick$' ./interop/javaclient/
//
// with the real node's variables set (docs/development.md). The workload
// is set by KAFKAKIT_YARDSTICK_RECORDS (default 200000, at most 5000000),
// _SIZE (value bytes, default 256), _ACKS (all, leader or none; default
// all), _COMPRESSION (none, gzip, snappy, lz4 or zstd; default none) and
// _ROUNDS (default 3, at most 10).
func TestYardstick(t *testing.T) {
	if os.Getenv("KAFKAKIT_YARDSTICK") == "" {
		t.Skip("needs KAFKAKIT_YARDSTICK=1: the yardstick is run by hand (docs/performance.md)")
	}
	requireJava(t)
	y, err := yardstickFromEnv(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	c := kafkatest.NewCluster(t)
	cfg := config.Default()
	cfg.Brokers = c.Addrs()
	cfg.Acks = config.Acks(y.acks)
	cfg.Compression = y.compression
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Minute)
	defer cancel()
	load := loadAverage()
	var rows []yardRow
	for round := range y.rounds {
		r, err := y.round(ctx, cfg, round)
		if err != nil {
			t.Fatalf("round %d: %v", round+1, err)
		}
		rows = append(rows, r...)
		t.Logf("round %d of %d done", round+1, y.rounds)
	}
	fmt.Print(y.table(rows, c.Addrs()[0]))
	fmt.Printf("load average (1 min) at the start %s, at the end %s, on %d CPUs\n", load, loadAverage(), runtime.NumCPU())
}

// loadAverage is the machine's one-minute load average, "?" where /proc
// does not tell: the figures mean little on a machine busy with more.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// yardstick is the workload every client runs.
type yardstick struct {
	records, size, rounds int
	acks, compression     string
}

const yardPartitions = 6

func yardstickFromEnv(getenv func(string) string) (yardstick, error) {
	y := yardstick{records: 200_000, size: 256, rounds: 3, acks: "all", compression: "none"}
	var errs []string
	whole := func(name string, dst *int, maximum int) {
		v := getenv(name)
		if v == "" {
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maximum {
			errs = append(errs, fmt.Sprintf("%s: %q is not a whole number from 1 to %d", name, v, maximum))
			return
		}
		*dst = n
	}
	oneOf := func(name string, dst *string, allowed ...string) {
		v := getenv(name)
		if v == "" {
			return
		}
		if !slices.Contains(allowed, v) {
			errs = append(errs, fmt.Sprintf("%s: %q is not one of %s", name, v, strings.Join(allowed, ", ")))
			return
		}
		*dst = v
	}
	whole("KAFKAKIT_YARDSTICK_RECORDS", &y.records, 5_000_000)
	whole("KAFKAKIT_YARDSTICK_SIZE", &y.size, 1<<20)
	whole("KAFKAKIT_YARDSTICK_ROUNDS", &y.rounds, 10)
	oneOf("KAFKAKIT_YARDSTICK_ACKS", &y.acks, "all", "leader", "none")
	oneOf("KAFKAKIT_YARDSTICK_COMPRESSION", &y.compression, "none", "gzip", "snappy", "lz4", "zstd")
	if len(errs) > 0 {
		return y, fmt.Errorf("yardstick: %s", strings.Join(errs, "; "))
	}
	return y, nil
}

// yardRow is one run's figures.
type yardRow struct {
	name           string
	produce        bool
	msgsPerSec     float64
	mbPerSec       float64
	p50, p99, p999 time.Duration // send to acknowledgement; 0 where not measured
}

// round runs the three producers, each into a topic of its own, then the
// three consumers, each in a new group, over the topic the Java producer
// filled; each set in an order that turns with round.
func (y yardstick) round(ctx context.Context, cfg config.Kafka, round int) ([]yardRow, error) {
	w := bench.Workload{Messages: y.records, Size: y.size, Partitions: yardPartitions, Concurrency: 1, Async: true}
	topic := func(who string) string { return fmt.Sprintf("yardstick-r%d-%s", round, who) }
	for _, who := range []string{"java", "java-batching", "franz-go", "kafkakit"} {
		w.Topic = topic(who)
		if err := bench.CreateTopic(ctx, cfg, w); err != nil {
			return nil, fmt.Errorf("create topic %s: %w", w.Topic, err)
		}
	}
	filled := topic("java")
	group := func(who string) string { return fmt.Sprintf("yardstick-r%d-%s", round, who) }
	produce := []func() (yardRow, error){
		func() (yardRow, error) { return y.javaProduce(ctx, cfg.Brokers[0], filled, "Java ProducerPerformance") },
		func() (yardRow, error) {
			// The Java client batching as kafkakit does by default: up to
			// about 1 MB a partition, no linger (Java's defaults are
			// 16 KiB and 5 ms).
			return y.javaProduce(ctx, cfg.Brokers[0], topic("java-batching"), "Java, kafkakit's batching",
				fmt.Sprintf("batch.size=%d", config.DefaultBatchSize), "linger.ms=0")
		},
		func() (yardRow, error) {
			w.Topic = topic("franz-go")
			return benchRow(bench.ProduceRaw(ctx, cfg, w))
		},
		func() (yardRow, error) {
			w.Topic = topic("kafkakit")
			return benchRow(bench.ProduceKafkakit(ctx, cfg, w))
		},
	}
	consume := []func() (yardRow, error){
		func() (yardRow, error) { return y.javaConsume(ctx, cfg.Brokers[0], filled, group("java")) },
		func() (yardRow, error) {
			w.Topic = filled
			return benchRow(bench.ConsumeRaw(ctx, cfg, w, group("franz-go")))
		},
		func() (yardRow, error) {
			w.Topic = filled
			return benchRow(bench.ConsumeKafkakit(ctx, cfg, w, group("kafkakit")))
		},
	}
	var rows []yardRow
	// The producers run before the consumers, which read what the Java
	// producer wrote with its defaults.
	for _, set := range [][]func() (yardRow, error){rotate(produce, round), rotate(consume, round)} {
		for _, run := range set {
			r, err := run()
			if err != nil {
				return nil, err
			}
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// rotate returns s turned left by n.
func rotate[T any](s []T, n int) []T {
	n %= len(s)
	return append(slices.Clone(s[n:]), s[:n]...)
}

// benchRow turns a bench result into a row.
func benchRow(r bench.Result, err error) (yardRow, error) {
	if err != nil {
		return yardRow{}, fmt.Errorf("%s: %w", r.Name, err)
	}
	return yardRow{name: r.Name, produce: len(r.Latencies) > 0, msgsPerSec: r.MsgsPerSec(), mbPerSec: r.MBPerSec(),
		p50: r.Percentile(0.50), p99: r.Percentile(0.99), p999: r.Percentile(0.999)}, nil
}

// javaAcks is acks in the Java client's words.
var javaAcks = map[string]string{"all": "all", "leader": "1", "none": "0"}

// producerSummary is ProducerPerformance's last line.
var producerSummary = regexp.MustCompile(`(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), [\d.]+ ms avg latency, [\d.]+ ms max latency, (\d+) ms 50th, \d+ ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th`)

// javaProduce runs ProducerPerformance at full speed with the workload's
// acks and compression, and props, into topic.
func (y yardstick) javaProduce(ctx context.Context, bootstrap, topic, name string, props ...string) (yardRow, error) {
	props = append([]string{"acks=" + javaAcks[y.acks], "compression.type=" + y.compression}, props...)
	out, err := y.runTool(ctx, "org.apache.kafka.tools.ProducerPerformance", append([]string{"--bootstrap-server", bootstrap, "--topic", topic,
		"--num-records", strconv.Itoa(y.records), "--record-size", strconv.Itoa(y.size), "--throughput", "-1",
		"--command-property"}, props...)...)
	if err != nil {
		return yardRow{}, err
	}
	return parseProducerPerformance(out, name, y.records, y.size)
}

// parseProducerPerformance reads ProducerPerformance's summary of records
// records of size bytes.
func parseProducerPerformance(out, name string, records, size int) (yardRow, error) {
	m := producerSummary.FindStringSubmatch(out)
	if m == nil || m[1] != strconv.Itoa(records) {
		return yardRow{}, fmt.Errorf("ProducerPerformance: no summary of %d records in its output:\n%s", records, tail(out, 2000))
	}
	ms := func(s string) time.Duration { n, _ := strconv.Atoi(s); return time.Duration(n) * time.Millisecond }
	rate, err := strconv.ParseFloat(m[2], 64)
	if err != nil || rate <= 0 {
		return yardRow{}, fmt.Errorf("ProducerPerformance: a rate of %q records/sec", m[2])
	}
	// Its MB are MiB: recompute from the rate, as bench counts 10^6 bytes.
	return yardRow{name: name, produce: true, msgsPerSec: rate, mbPerSec: rate * float64(size) / 1e6,
		p50: ms(m[4]), p99: ms(m[5]), p999: ms(m[6])}, nil
}

func (y yardstick) javaConsume(ctx context.Context, bootstrap, topic, group string) (yardRow, error) {
	out, err := y.runTool(ctx, "org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server", bootstrap, "--topic", topic,
		"--num-records", strconv.Itoa(y.records), "--group", group, "--timeout", "120000")
	if err != nil {
		return yardRow{}, err
	}
	return parseConsumerPerformance(out, y.records, y.size)
}

// parseConsumerPerformance reads ConsumerPerformance's result line, which
// follows its header: ..., data.consumed.in.nMsg (4), ..., fetch.time.ms
// (7), .... The rate is over the fetch time, which leaves out joining the
// group, as bench's span does.
func parseConsumerPerformance(out string, records, size int) (yardRow, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i, line := range lines {
		if !strings.HasPrefix(line, "start.time") || i+1 == len(lines) {
			continue
		}
		f := strings.Split(lines[i+1], ", ")
		if len(f) < 10 {
			break
		}
		n, nerr := strconv.Atoi(f[4])
		fetchMS, ferr := strconv.ParseFloat(f[7], 64)
		if nerr != nil || ferr != nil || n < records || fetchMS <= 0 {
			return yardRow{}, fmt.Errorf("ConsumerPerformance: %q is not %d records read in a positive time", lines[i+1], records)
		}
		rate := float64(n) / (fetchMS / 1000)
		return yardRow{name: "Java ConsumerPerformance", msgsPerSec: rate, mbPerSec: rate * float64(size) / 1e6}, nil
	}
	return yardRow{}, fmt.Errorf("ConsumerPerformance: no result line in its output:\n%s", tail(out, 2000))
}

// runTool runs one of Kafka's tools to its end and returns its standard
// output.
func (y yardstick) runTool(ctx context.Context, class string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	cmd := javaCommand(class, args...)
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return "", err
	}
	stop := context.AfterFunc(ctx, func() { _ = cmd.Process.Kill() })
	defer stop()
	if err := cmd.Wait(); err != nil {
		return "", fmt.Errorf("%s: %w\n%s", class, err, tail(stderr.String(), 2000))
	}
	return stdout.String(), nil
}

// table gives each run's medians over the rounds, with the ratio of its
// throughput and p99 to the Java client's.
func (y yardstick) table(rows []yardRow, bootstrap string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "yardstick: %d records of %d bytes, acks=%s, compression=%s, %d partitions, Apache Kafka at %s; medians of %d rounds\n",
		y.records, y.size, y.acks, y.compression, yardPartitions, bootstrap, y.rounds)
	fmt.Fprintf(&b, "%-26s %10s %17s %8s %9s %9s %9s %14s %10s\n", "run", "msgs/s", "(rounds' range)", "MB/s", "p50", "p99", "p99.9", "msgs/s vs Java", "p99 vs Java")
	var names []string
	for _, r := range rows {
		if !slices.Contains(names, r.name) {
			names = append(names, r.name)
		}
	}
	var java yardRow
	for _, name := range names {
		m := medianRow(rows, name)
		if strings.HasPrefix(name, "Java ") && strings.HasSuffix(name, "Performance") {
			java = m // the Java client with its defaults
		}
		ratio, p99 := "", ""
		if java.msgsPerSec > 0 {
			ratio = fmt.Sprintf("%.2f", m.msgsPerSec/java.msgsPerSec)
		}
		if m.produce && java.p99 > 0 {
			p99 = fmt.Sprintf("%.2f", float64(m.p99)/float64(java.p99))
		}
		lo, hi := rateRange(rows, name)
		fmt.Fprintf(&b, "%-26s %10.0f %17s %8.1f %9s %9s %9s %14s %10s\n", name, m.msgsPerSec, fmt.Sprintf("%.0f-%.0f", lo, hi), m.mbPerSec,
			latency(m.p50), latency(m.p99), latency(m.p999), ratio, p99)
	}
	return b.String()
}

// rateRange is the lowest and highest msgs/s of the rows called name.
func rateRange(rows []yardRow, name string) (lo, hi float64) {
	for _, r := range rows {
		if r.name != name {
			continue
		}
		if lo == 0 || r.msgsPerSec < lo {
			lo = r.msgsPerSec
		}
		hi = max(hi, r.msgsPerSec)
	}
	return lo, hi
}

// medianRow is the median of each figure of the rows called name.
func medianRow(rows []yardRow, name string) yardRow {
	var rs []yardRow
	for _, r := range rows {
		if r.name == name {
			rs = append(rs, r)
		}
	}
	med := func(f func(yardRow) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return yardRow{name: name, produce: rs[0].produce,
		msgsPerSec: med(func(r yardRow) float64 { return r.msgsPerSec }),
		mbPerSec:   med(func(r yardRow) float64 { return r.mbPerSec }),
		p50:        time.Duration(med(func(r yardRow) float64 { return float64(r.p50) })),
		p99:        time.Duration(med(func(r yardRow) float64 { return float64(r.p99) })),
		p999:       time.Duration(med(func(r yardRow) float64 { return float64(r.p999) })),
	}
}

func latency(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return d.Round(100 * time.Microsecond).String()
}
