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
	"strings"
	"sync/atomic"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/internal/bench"
	"github.com/kafkakit/kafkakit/internal/embedded"
)

const benchUsage = `Usage:
  kafkakit bench produce [flags]   Send through the producer (--async for SendAsync)
  kafkakit bench consume [flags]   Consume with a no-op (or --handler-wait) handler
  kafkakit bench keyed   [flags]   Consume one partition by key with --concurrency workers
  kafkakit bench http    [flags]   Push through the HTTP API (--batch N for send-batch)

The broker is KAFKA_BROKERS (and the other KAFKA_* variables), or an
in-process one with --embedded. --baseline runs raw franz-go (or, for keyed,
one worker) on the same workload in the same run and prints the ratio; for
http it also pushes to a net/http server that does nothing, the ceiling of
any handler, and splits the CPU per message between the three.

Flags:
`

// benchCommand runs `kafkakit bench <mode> ...`.
func benchCommand(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, benchUsage)
		return usageError{errors.New("bench: no mode")}
	}
	mode := args[0]
	fs := flag.NewFlagSet("bench "+mode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var w bench.Workload
	fs.IntVar(&w.Messages, "messages", 100_000, "messages to send or consume")
	fs.IntVar(&w.Size, "size", 256, "value size in bytes")
	fs.IntVar(&w.Keys, "keys", 0, "distinct keys (0: no keys)")
	fs.IntVar(&w.Partitions, "partitions", 6, "partitions of the topic")
	fs.IntVar(&w.Concurrency, "concurrency", 32, "synchronous senders, HTTP connections, or keyed workers")
	fs.BoolVar(&w.Async, "async", false, "produce: send asynchronously from one goroutine")
	fs.IntVar(&w.Batch, "batch", 0, "http: messages per send-batch request (0: /kafka/send)")
	fs.DurationVar(&w.HandlerWait, "handler-wait", 0, "consume, keyed: how long each handler call waits")
	fs.StringVar(&w.Topic, "topic", "", "topic (default: a fresh one per run)")
	acks := fs.String("acks", "all", "all, leader or none")
	embeddedFlag := fs.Bool("embedded", false, "run an in-process broker")
	discard := fs.Bool("discard", false, "with --embedded, produce and http: the broker acknowledges records without keeping them, to measure the clients alone")
	baseline := fs.Bool("baseline", false, "also run the baseline and print the ratio")
	url := fs.String("url", "", "http: an existing kafkakit service to push to")
	spawn := fs.Bool("spawn", false, "http: run `kafkakit serve` as a child process and report its peak RSS")
	serveBinary := fs.String("serve-binary", "", "with --spawn: the kafkakit binary to run (default: this one)")
	verify := fs.Bool("verify", false, "http: check afterwards that every acknowledged message is in the topic")
	rounds := fs.Int("rounds", 1, "with --baseline: alternate baseline and kafkakit runs this many times and compare medians")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole bench process (with --embedded, the broker too) to `file`")
	fs.Usage = func() { fmt.Fprint(stderr, benchUsage); fs.PrintDefaults() }
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err}
	}
	switch {
	case mode != "produce" && mode != "consume" && mode != "keyed" && mode != "http":
		fs.Usage()
		return usageError{fmt.Errorf("bench: unknown mode %q", mode)}
	case w.Messages < 1 || w.Size < 0 || w.Partitions < 1 || w.Concurrency < 1 || w.Batch < 0 || *rounds < 1:
		fmt.Fprintln(stderr, "kafkakit bench: --messages, --partitions and --concurrency must be positive, --size and --batch not negative")
		return usageError{errors.New("bad flags")}
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "kafkakit bench: unexpected argument %q\n", fs.Arg(0))
		return usageError{errors.New("unexpected argument")}
	}
	if *embeddedFlag {
		lookup = override(lookup, "KAFKA_BROKERS", config.EmbeddedBrokers)
	}
	cfg, err := config.FromEnv(lookup)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	cfg.Acks = config.Acks(*acks)
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.Embedded() {
		if *discard && (mode == "consume" || mode == "keyed" || *verify) {
			fmt.Fprintln(stderr, "kafkakit bench: --discard keeps nothing to consume or verify")
			return usageError{errors.New("--discard with reading")}
		}
		b, err := embedded.Start(embedded.Options{Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler), Discard: *discard})
		if err != nil {
			return err
		}
		defer b.Close()
		cfg.Brokers = []string{b.Addr()}
	}
	if w.Topic == "" {
		w.Topic = fmt.Sprintf("bench-%s-%d", mode, time.Now().UnixNano())
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if mode == "keyed" {
		w.Partitions = 1
		if w.Keys == 0 {
			w.Keys = 1000
		}
	}
	if err := bench.CreateTopic(ctx, cfg, w); err != nil {
		return fmt.Errorf("bench: create topic %s: %w", w.Topic, err)
	}
	fmt.Fprintf(stdout, "kafkakit bench %s: %d messages of %d bytes, %d keys, %d partitions, concurrency %d, acks=%s, brokers %s\n",
		mode, w.Messages, w.Size, w.Keys, w.Partitions, w.Concurrency, cfg.Acks, strings.Join(cfg.Brokers, ","))

	progress := func(name string, total int, run func(bench.Workload) (bench.Result, error)) (bench.Result, error) {
		var done atomic.Int64
		w := w
		w.Progress = &done
		stop := make(chan struct{})
		ticker := time.NewTicker(time.Second)
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-ticker.C:
					fmt.Fprintf(stderr, "  %s: %d/%d\n", name, done.Load(), total)
				}
			}
		}()
		r, err := run(w)
		ticker.Stop()
		close(stop)
		return r, err
	}

	runRound := func(round int) (results []bench.Result, base *bench.Result, err error) {
		if round > 0 {
			w.Topic = fmt.Sprintf("%s-r%d", strings.SplitN(w.Topic, "-r", 2)[0], round)
			if err := bench.CreateTopic(ctx, cfg, w); err != nil {
				return nil, nil, err
			}
		}
		switch mode {
		case "produce":
			if *baseline {
				r, err := progress("franz-go", w.Messages, func(w bench.Workload) (bench.Result, error) { return bench.ProduceRaw(ctx, cfg, w) })
				if err != nil {
					return nil, nil, err
				}
				base = &r
				results = append(results, r)
			}
			r, err := progress("kafkakit", w.Messages, func(w bench.Workload) (bench.Result, error) { return bench.ProduceKafkakit(ctx, cfg, w) })
			if err != nil {
				return nil, nil, err
			}
			results = append(results, r)
		case "consume", "keyed":
			if mode == "consume" {
				w.Concurrency = 1
			}
			fmt.Fprintf(stderr, "  filling %s with %d messages\n", w.Topic, w.Messages)
			if err := bench.Fill(ctx, cfg, w); err != nil {
				return nil, nil, err
			}
			if *baseline {
				bw := w
				run := func(w bench.Workload) (bench.Result, error) { return bench.ConsumeRaw(ctx, cfg, w, w.Topic+"-raw") }
				if mode == "keyed" {
					// One worker: the sequential handling it is compared with,
					// on as many messages as take about as long.
					bw.Concurrency = 1
					if bw.HandlerWait > 0 {
						bw.Messages = max(min(w.Messages, int(3*time.Second/bw.HandlerWait)), 1)
					}
					run = func(w bench.Workload) (bench.Result, error) {
						return bench.ConsumeKafkakit(ctx, cfg, w, w.Topic+"-sequential")
					}
				}
				r, err := progress("baseline", bw.Messages, func(bench.Workload) (bench.Result, error) { return run(bw) })
				if err != nil {
					return nil, nil, err
				}
				base = &r
				results = append(results, r)
			}
			r, err := progress("kafkakit", w.Messages, func(w bench.Workload) (bench.Result, error) {
				return bench.ConsumeKafkakit(ctx, cfg, w, w.Topic+"-kafkakit")
			})
			if err != nil {
				return nil, nil, err
			}
			results = append(results, r)
		case "http":
			if *baseline {
				bw := w
				bw.Async = w.Batch > 0 // a batch is compared with asynchronous produce
				r, err := progress("franz-go", w.Messages, func(w bench.Workload) (bench.Result, error) { return bench.ProduceRaw(ctx, cfg, bw) })
				if err != nil {
					return nil, nil, err
				}
				base = &r
				results = append(results, r)
				noop, err := progress("net/http no-op", w.Messages, func(w bench.Workload) (bench.Result, error) {
					target, stop, err := bench.StartNoop()
					if err != nil {
						return bench.Result{}, err
					}
					defer stop()
					return bench.HTTPNoop(ctx, target, w)
				})
				if err != nil {
					return nil, nil, err
				}
				results = append(results, noop)
			}
			target, pid, stop, err := httpTarget(ctx, cfg, *url, *spawn, *serveBinary, stderr)
			if err != nil {
				return nil, nil, err
			}
			r, acked, err := func() (bench.Result, []bool, error) {
				defer stop()
				var acked []bool
				var childCPU time.Duration
				if pid > 0 {
					childCPU = bench.ProcessCPU(pid)
				}
				r, err := progress("http", w.Messages, func(w bench.Workload) (bench.Result, error) {
					r, a, err := bench.HTTP(ctx, target, w)
					acked = a
					return r, err
				})
				switch {
				case *url != "":
					r.CPU = 0 // the service's is not known
				case pid > 0:
					r.CPU += bench.ProcessCPU(pid) - childCPU
					r.PeakRSS = bench.PeakRSS(pid)
					r.Note = "CPU with the service process's; peak RSS of the service process"
				}
				return r, acked, err
			}()
			if err != nil {
				return nil, nil, err
			}
			if *verify {
				missing, err := bench.Verify(ctx, cfg, w.Topic, acked)
				if err != nil {
					return nil, nil, err
				}
				if missing > 0 {
					return nil, nil, fmt.Errorf("bench: %d acknowledged messages are missing from %s", missing, w.Topic)
				}
				r.Note = strings.TrimSpace(r.Note + "; every acknowledged message is in the topic")
			}
			results = append(results, r)
		}
		return results, base, nil
	}
	var all []bench.Result
	var bases, runs []bench.Result
	for round := range *rounds {
		results, base, err := runRound(round)
		if err != nil {
			return err
		}
		if *rounds > 1 {
			_ = bench.DeleteTopic(ctx, cfg, w.Topic)
		}
		all = append(all, results...)
		if base != nil {
			bases = append(bases, *base)
		}
		runs = append(runs, results[len(results)-1])
	}
	var base *bench.Result
	if len(bases) > 0 {
		b := bench.Median(bases)
		base = &b
	}
	fmt.Fprint(stdout, bench.Table(all, base))
	if base == nil {
		return nil
	}
	k := bench.Median(runs)
	if *rounds > 1 {
		fmt.Fprintf(stdout, "median of %d rounds: %s %.0f msgs/s, %s %.0f msgs/s: ratio %.2f\n",
			*rounds, base.Name, base.MsgsPerSec(), k.Name, k.MsgsPerSec(), k.MsgsPerSec()/base.MsgsPerSec())
	}
	if noops := bench.Named(all, "net/http no-op"); len(noops) > 0 {
		fmt.Fprint(stdout, bench.HTTPCeiling(*base, bench.Median(noops), k))
	}
	return nil
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
