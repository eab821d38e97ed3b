package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/internal/bench"
	"github.com/kafkakit/kafkakit/internal/embedded"
)

const benchUsage = `Usage: kafkakit bench <workload> [flags]

Workloads:
  kafkakit bench produce [flags]   Send through the producer (--async for SendAsync)
  kafkakit bench consume [flags]   Consume with a no-op (or --handler-wait) handler
  kafkakit bench keyed   [flags]   Consume one partition by key with --concurrency workers
  kafkakit bench retry   [flags]   Consume one partition of --keys keys (default 1000) through retry
                                    topics, with and without key K failing 3 times, alternating over
                                    --rounds: the other keys' msgs/s for both and the ratio (medians);
                                    fails unless K's records are handled in order, once each
  kafkakit bench http    [flags]   Push through the HTTP API (--batch N for send-batch, --stream N for
                                    N streams, --async for Prefer: respond-async,
                                    --atomic with --batch for atomic batches)

The broker is KAFKA_BROKERS (and the other KAFKA_* variables), or an
in-process one with --embedded. --baseline runs raw franz-go (or, for keyed,
one worker) on the same workload in the same run and prints the ratio; for
http it also pushes to a net/http server that does nothing, the ceiling of
any handler, and splits the CPU per message between the three.

Flags:
`

// benchFlags are bench's flags besides the workload's.
type benchFlags struct {
	acks, url, serveBinary, cpuProfile         string
	embedded, discard, baseline, spawn, verify bool
	rounds                                     int
}

// newBenchFlags defines bench's flags on a new flag set.
func newBenchFlags(mode string, w *bench.Workload, f *benchFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("bench "+mode, flag.ContinueOnError)
	messages, concurrency := 100_000, 32
	if mode == "retry" {
		// Long enough to last well over 100ms; one worker unless asked.
		messages, concurrency = 200_000, 1
	}
	fs.IntVar(&w.Messages, "messages", messages, "messages to send or consume")
	fs.IntVar(&w.Size, "size", 256, "value size in bytes")
	fs.IntVar(&w.Keys, "keys", 0, "distinct keys (0: no keys)")
	fs.IntVar(&w.Partitions, "partitions", 6, "partitions of the topic")
	fs.IntVar(&w.Concurrency, "concurrency", concurrency, "synchronous senders, HTTP connections, or keyed workers (retry: default 1)")
	fs.BoolVar(&w.Async, "async", false, "produce: send asynchronously from one goroutine; http: send with Prefer: respond-async (answered 202 before the broker's ack)")
	fs.IntVar(&w.Streams, "stream", 0, "http: send over this many POST /kafka/stream at once instead of send requests")
	fs.DurationVar(&w.ReadDelay, "read-delay", 0, "http, with --stream: each stream's client waits this long after every answer it reads (a slow reader)")
	fs.IntVar(&w.Batch, "batch", 0, "http: messages per send-batch request (0: /kafka/send)")
	fs.BoolVar(&w.Atomic, "atomic", false, "http, with --batch: send each batch atomically (one transaction); --baseline then runs plain batches of the same size")
	fs.DurationVar(&w.HandlerWait, "handler-wait", 0, "consume, keyed: how long each handler call waits")
	fs.StringVar(&w.Topic, "topic", "", "topic (default: a fresh one per run)")
	fs.StringVar(&f.acks, "acks", "all", "all, leader or none")
	fs.BoolVar(&f.embedded, "embedded", false, "run an in-process broker")
	fs.BoolVar(&f.discard, "discard", false, "with --embedded, produce and http: the broker acknowledges records without keeping them, to measure the clients alone")
	fs.BoolVar(&f.baseline, "baseline", false, "also run the baseline and print the ratio")
	fs.StringVar(&f.url, "url", "", "http: an existing kafkakit service to push to")
	fs.BoolVar(&f.spawn, "spawn", false, "http: run `kafkakit serve` as a child process and report its peak RSS")
	fs.StringVar(&f.serveBinary, "serve-binary", "", "with --spawn: the kafkakit binary to run (default: this one)")
	fs.BoolVar(&f.verify, "verify", false, "http: check afterwards that every acknowledged message is in the topic")
	fs.IntVar(&f.rounds, "rounds", 1, "with --baseline, or retry: alternate the two runs this many times and compare medians")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole bench process (with --embedded, the broker too) to `file`")
	fs.Usage = func() { fmt.Fprint(fs.Output(), benchUsage); fs.PrintDefaults() }
	return fs
}

var benchModes = []string{"produce", "consume", "keyed", "http", "retry"}

// benchCommand runs `kafkakit bench <workload> ...`.
func benchCommand(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	b := benchRun{ctx: ctx, stdout: stdout, stderr: stderr}
	mode := ""
	if len(args) > 0 {
		mode = args[0]
	}
	b.mode = mode
	fs := newBenchFlags(mode, &b.w, &b.flags)
	switch {
	case len(args) == 0:
		fs.SetOutput(stderr)
		fs.Usage()
		return usageError{errors.New("bench: no workload")}
	case isHelp(mode):
		fs.SetOutput(stdout)
		fs.Usage()
		return nil
	case !slices.Contains(benchModes, mode):
		fmt.Fprintf(stderr, "kafkakit bench: unknown workload %q\n\n", mode)
		fs.SetOutput(stderr)
		fs.Usage()
		return usageError{fmt.Errorf("bench: unknown workload %q", mode)}
	}
	if err := parse(fs, args[1:], stdout, stderr); err != nil {
		return err
	}
	if err := b.check(fs, stderr); err != nil {
		return err
	}
	stop, err := b.setUp(lookup)
	if err != nil {
		return err
	}
	defer stop()
	return b.run()
}

// benchRun is one `kafkakit bench` run.
type benchRun struct {
	ctx            context.Context
	mode           string
	w              bench.Workload
	flags          benchFlags
	cfg            config.Kafka
	stdout, stderr io.Writer
	firstTopic     string // round 0's topic; round n's is firstTopic-r<n>
}

// check rejects flags that make no sense together.
func (b *benchRun) check(fs *flag.FlagSet, stderr io.Writer) error {
	w := b.w
	switch {
	case w.Messages < 1 || w.Size < 0 || w.Partitions < 1 || w.Concurrency < 1 || w.Batch < 0 || b.flags.rounds < 1:
		fmt.Fprintln(stderr, "kafkakit bench: --messages, --partitions, --concurrency and --rounds must be positive, --size and --batch not negative")
		return usageError{errors.New("bad flags")}
	case w.Atomic && (b.mode != "http" || w.Batch == 0 || w.Async):
		fmt.Fprintln(stderr, "kafkakit bench: --atomic needs http with --batch, and no --async")
		return usageError{errors.New("--atomic without --batch")}
	case w.ReadDelay < 0 || (w.ReadDelay > 0 && (b.mode != "http" || w.Streams == 0)):
		fmt.Fprintln(stderr, "kafkakit bench: --read-delay needs http with --stream, and is not negative")
		return usageError{errors.New("--read-delay without --stream")}
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "kafkakit bench: unexpected argument %q\n", fs.Arg(0))
		return usageError{errors.New("unexpected argument")}
	case b.mode == "retry" && w.Keys == 1:
		fmt.Fprintln(stderr, "kafkakit bench: retry needs --keys of at least 2: key K and the others")
		return usageError{errors.New("retry with one key")}
	case b.flags.discard && (b.mode == "consume" || b.mode == "keyed" || b.mode == "retry" || b.flags.verify):
		fmt.Fprintln(stderr, "kafkakit bench: --discard keeps nothing to consume or verify")
		return usageError{errors.New("--discard with reading")}
	}
	return nil
}

// setUp reads the configuration, starts the embedded broker and the CPU
// profile if asked, and creates the topic. stop undoes it.
func (b *benchRun) setUp(lookup func(string) (string, bool)) (stop func(), err error) {
	if b.flags.embedded {
		lookup = override(lookup, config.EnvBrokers, config.EmbeddedBrokers)
	}
	if b.cfg, err = config.FromEnv(lookup); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	b.cfg.Acks = config.Acks(b.flags.acks)
	if err := b.cfg.Validate(); err != nil {
		return nil, err
	}
	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	if b.cfg.Embedded() {
		br, err := embedded.Start(embedded.Options{Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler), Discard: b.flags.discard})
		if err != nil {
			return nil, err
		}
		stops = append(stops, br.Close)
		b.cfg.Brokers = []string{br.Addr()}
	}
	if b.flags.cpuProfile != "" {
		stopProfile, err := startCPUProfile(b.flags.cpuProfile)
		if err != nil {
			stop()
			return nil, err
		}
		stops = append(stops, stopProfile)
	}
	if b.w.Topic == "" {
		b.w.Topic = fmt.Sprintf("bench-%s-%d", b.mode, time.Now().UnixNano())
	}
	if b.mode == "keyed" || b.mode == "retry" {
		b.w.Partitions = 1
		if b.w.Keys == 0 {
			b.w.Keys = 1000
		}
	}
	if b.mode == "retry" {
		return stop, nil // each run creates its own topic
	}
	if err := bench.CreateTopic(b.ctx, b.cfg, b.w); err != nil {
		stop()
		return nil, fmt.Errorf("bench: create topic %s: %w", b.w.Topic, err)
	}
	return stop, nil
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// run runs the rounds and prints the table and the ratios.
func (b *benchRun) run() error {
	if b.mode == "retry" {
		return b.runRetry()
	}
	w := b.w
	fmt.Fprintf(b.stdout, "kafkakit bench %s: %d messages of %d bytes, %d keys, %d partitions, concurrency %d, acks=%s, brokers %s\n",
		b.mode, w.Messages, w.Size, w.Keys, w.Partitions, w.Concurrency, b.cfg.Acks, strings.Join(b.cfg.Brokers, ","))
	var all, bases, runs []bench.Result
	for round := range b.flags.rounds {
		results, base, err := b.round(round)
		if err != nil {
			return err
		}
		if b.flags.rounds > 1 {
			_ = bench.DeleteTopic(b.ctx, b.cfg, b.w.Topic)
		}
		all = append(all, results...)
		if base != nil {
			bases = append(bases, *base)
		}
		runs = append(runs, results[len(results)-1])
	}
	if len(bases) == 0 {
		fmt.Fprint(b.stdout, bench.Table(all, nil))
		return nil
	}
	base := bench.Median(bases)
	fmt.Fprint(b.stdout, bench.Table(all, &base))
	k := bench.Median(runs)
	if b.flags.rounds > 1 {
		fmt.Fprintf(b.stdout, "median of %d rounds: %s %.0f msgs/s, %s %.0f msgs/s: ratio %.2f\n",
			b.flags.rounds, base.Name, base.MsgsPerSec(), k.Name, k.MsgsPerSec(), k.MsgsPerSec()/base.MsgsPerSec())
	}
	if noops := bench.Named(all, bench.NoopName(b.w)); len(noops) > 0 {
		fmt.Fprint(b.stdout, bench.HTTPCeiling(base, bench.Median(noops), k))
	}
	return nil
}

// runRetry runs the retry workload's rounds and prints the other keys'
// throughput with and without K's failures, and the ratio.
func (b *benchRun) runRetry() error {
	w := b.w
	fmt.Fprintf(b.stdout, "kafkakit bench retry: %d messages of %d bytes, %d keys, 1 partition, concurrency %d, key K failing %d times through retry topics, %d rounds, acks=%s, brokers %s\n",
		w.Messages, w.Size, w.Keys, w.Concurrency, bench.RetryFailures, b.flags.rounds, b.cfg.Acks, strings.Join(b.cfg.Brokers, ","))
	plain, failing, err := bench.RetryRounds(b.ctx, b.cfg, w, b.flags.rounds, func(w bench.Workload, run func(bench.Workload) (bench.Result, error)) (bench.Result, error) {
		return b.progress(w.Topic, w, run)
	})
	if err != nil {
		return err
	}
	ratio, p, f := bench.RetryRatio(plain, failing)
	fmt.Fprint(b.stdout, bench.Table(append(plain, failing...), &p))
	fmt.Fprintf(b.stdout, "other keys, median of %d rounds: %.0f msgs/s without failures, %.0f msgs/s with K failing: ratio %.2f\n",
		b.flags.rounds, p.MsgsPerSec(), f.MsgsPerSec(), ratio)
	return nil
}

// progress runs run on w, printing every second how far it got.
func (b *benchRun) progress(name string, w bench.Workload, run func(bench.Workload) (bench.Result, error)) (bench.Result, error) {
	var done atomic.Int64
	w.Progress = &done
	stop := make(chan struct{})
	finished := make(chan struct{})
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	go func() {
		defer close(finished)
		for {
			select {
			case <-stop:
				return
			case <-ticker.C:
				fmt.Fprintf(b.stderr, "  %s: %d/%d\n", name, done.Load(), w.Messages)
			}
		}
	}()
	r, err := run(w)
	close(stop)
	<-finished
	return r, err
}

// round runs the workload once, after its baseline if asked; the last
// result is kafkakit's.
func (b *benchRun) round(round int) (results []bench.Result, base *bench.Result, err error) {
	if round == 0 {
		b.firstTopic = b.w.Topic
	} else {
		b.w.Topic = fmt.Sprintf("%s-r%d", b.firstTopic, round)
		if err := bench.CreateTopic(b.ctx, b.cfg, b.w); err != nil {
			return nil, nil, err
		}
	}
	if b.mode == "consume" || b.mode == "keyed" {
		fmt.Fprintf(b.stderr, "  filling %s with %d messages\n", b.w.Topic, b.w.Messages)
		if err := bench.Fill(b.ctx, b.cfg, b.consumeWorkload()); err != nil {
			return nil, nil, err
		}
	}
	if b.flags.baseline {
		if results, err = b.baseline(); err != nil {
			return nil, nil, err
		}
		base = &results[0]
	}
	var r bench.Result
	switch b.mode {
	case "produce":
		r, err = b.progress("kafkakit", b.w, func(w bench.Workload) (bench.Result, error) { return bench.ProduceKafkakit(b.ctx, b.cfg, w) })
	case "consume", "keyed":
		r, err = b.progress("kafkakit", b.consumeWorkload(), func(w bench.Workload) (bench.Result, error) {
			return bench.ConsumeKafkakit(b.ctx, b.cfg, w, w.Topic+"-kafkakit")
		})
	case "http":
		r, err = b.httpRun(b.w)
	}
	if err != nil {
		return nil, nil, err
	}
	return append(results, r), base, nil
}

// consumeWorkload is the workload of consume (one worker) and keyed.
func (b *benchRun) consumeWorkload() bench.Workload {
	w := b.w
	if b.mode == "consume" {
		w.Concurrency = 1
	}
	return w
}

// baseline runs what kafkakit is compared with; the first result is the
// baseline, an http run adds a no-op net/http server's.
func (b *benchRun) baseline() ([]bench.Result, error) {
	switch b.mode {
	case "produce":
		r, err := b.progress("franz-go", b.w, func(w bench.Workload) (bench.Result, error) { return bench.ProduceRaw(b.ctx, b.cfg, w) })
		return []bench.Result{r}, err
	case "consume", "keyed":
		return b.consumeBaseline()
	}
	if b.w.Atomic {
		// The cost of the transaction: plain batches of the same size.
		plain := b.w
		plain.Atomic = false
		r, err := b.httpRun(plain)
		return []bench.Result{r}, err
	}
	bw := b.w
	// A batch, a stream or a 202 is compared with asynchronous produce.
	bw.Async = b.w.Batch > 0 || b.w.Streams > 0 || b.w.Async
	r, err := b.progress("franz-go", bw, func(w bench.Workload) (bench.Result, error) { return bench.ProduceRaw(b.ctx, b.cfg, w) })
	if err != nil {
		return nil, err
	}
	noop, err := b.progress("net/http no-op", b.w, func(w bench.Workload) (bench.Result, error) {
		target, stop, err := bench.StartNoop()
		if err != nil {
			return bench.Result{}, err
		}
		defer stop()
		return bench.HTTPNoop(b.ctx, target, w)
	})
	return []bench.Result{r, noop}, err
}

// consumeBaseline consumes the topic with raw franz-go, or, for keyed,
// with one worker.
func (b *benchRun) consumeBaseline() ([]bench.Result, error) {
	w := b.consumeWorkload()
	run := func(w bench.Workload) (bench.Result, error) { return bench.ConsumeRaw(b.ctx, b.cfg, w, w.Topic+"-raw") }
	if b.mode == "keyed" {
		// One worker: the sequential handling it is compared with, on as
		// many messages as take about as long.
		w.Concurrency = 1
		if w.HandlerWait > 0 {
			w.Messages = max(min(w.Messages, int(3*time.Second/w.HandlerWait)), 1)
		}
		run = func(w bench.Workload) (bench.Result, error) {
			return bench.ConsumeKafkakit(b.ctx, b.cfg, w, w.Topic+"-sequential")
		}
	}
	r, err := b.progress("baseline", w, run)
	return []bench.Result{r}, err
}

// httpRun pushes w through the HTTP API and, with --verify, checks that
// every acknowledged message is in the topic.
func (b *benchRun) httpRun(w bench.Workload) (bench.Result, error) {
	target, pid, stop, err := httpTarget(b.ctx, b.cfg, b.flags.url, b.flags.spawn, b.flags.serveBinary, b.stderr)
	if err != nil {
		return bench.Result{}, err
	}
	var acked []bool
	var childCPU time.Duration
	if pid > 0 {
		childCPU = bench.ProcessCPU(pid)
	}
	r, err := b.progress("http", w, func(w bench.Workload) (bench.Result, error) {
		r, a, err := bench.HTTP(b.ctx, target, w)
		acked = a
		return r, err
	})
	switch {
	case b.flags.url != "":
		r.CPU = 0 // the service's is not known
	case pid > 0:
		r.CPU += bench.ProcessCPU(pid) - childCPU
		r.PeakRSS = bench.PeakRSS(pid)
		r.Note = "CPU with the service process's; peak RSS of the service process"
	}
	stop()
	if err != nil || !b.flags.verify {
		return r, err
	}
	missing, err := bench.Verify(b.ctx, b.cfg, b.w.Topic, acked)
	if err != nil {
		return r, err
	}
	if missing > 0 {
		return r, fmt.Errorf("bench: %d acknowledged messages are missing from %s", missing, b.w.Topic)
	}
	r.Note = strings.TrimPrefix(r.Note+"; every acknowledged message is in the topic", "; ")
	return r, nil
}

// httpTarget returns the service to push to: url if given, a `kafkakit
// serve` child process with spawn, else the API served in this process.
// pid is the child's, 0 otherwise.
func httpTarget(ctx context.Context, cfg config.Kafka, url string, spawn bool, binary string, stderr io.Writer) (target string, pid int, stop func(), err error) {
	switch {
	case url != "":
		return strings.TrimSuffix(url, "/"), 0, func() {}, nil
	case !spawn:
		target, stop, err := bench.StartAPI(cfg)
		return target, 0, stop, err
	}
	if binary == "" {
		if binary, err = os.Executable(); err != nil {
			return "", 0, nil, err
		}
	}
	cmd := exec.CommandContext(ctx, binary, "serve")
	cmd.Env = append(os.Environ(), "KAFKA_BROKERS="+strings.Join(cfg.Brokers, ","), "HTTP_ADDR=127.0.0.1:0",
		"LOG_LEVEL=info", "LOG_FORMAT=json", "KAFKA_ACKS="+string(cfg.Acks))
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		return "", 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", 0, nil, err
	}
	stop = func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}
	sc := bufio.NewScanner(errPipe)
	for sc.Scan() {
		var line struct{ Msg, URL string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "http server listening" {
			go io.Copy(io.Discard, errPipe)
			fmt.Fprintf(stderr, "  service pid %d at %s\n", cmd.Process.Pid, line.URL)
			return line.URL, cmd.Process.Pid, stop, nil
		}
	}
	stop()
	return "", 0, nil, errors.New("bench: the service exited before listening")
}
