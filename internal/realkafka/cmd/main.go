// Command realkafka runs an Apache Kafka cluster of 1 or 3 KRaft nodes on
// 127.0.0.1 for kafkakit's real-cluster tests:
//
//	go run ./internal/realkafka/cmd run [-nodes 1|3] [-dir DIR] [-env-file FILE] [-auto-create=false]
//	go run ./internal/realkafka/cmd stop -dir DIR
//
// run starts the nodes, prints the cluster's addresses and credentials as
// environment lines (KAFKA_BROKERS=..., KAFKAKIT_TEST_BROKERS=...), also
// into -env-file when given, and keeps the cluster up until it gets
// SIGINT or SIGTERM, or until stop is run with the same -dir; then it
// stops every node it started. With -auto-create=false the nodes create
// no topic on first use (auto.create.topics.enable=false), as production
// clusters run; the default is Apache Kafka's, true. stop signals the run command whose PID is
// in DIR and kills any node it left behind.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kafkakit/kafkakit/internal/realkafka"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: realkafka run [-nodes 1|3] [-dir DIR] [-env-file FILE] [-auto-create=false] | realkafka stop -dir DIR")
	}
	fs := flag.NewFlagSet("realkafka "+args[0], flag.ContinueOnError)
	nodes := fs.Int("nodes", 1, "number of KRaft nodes, 1 or 3")
	dir := fs.String("dir", "", "directory for storage, logs and certificates (default: a new temporary directory, removed at exit)")
	envFile := fs.String("env-file", "", "file to write the environment lines to, once the cluster is ready")
	heap := fs.String("heap", "512m", "JVM maximum heap per node")
	autoCreate := fs.Bool("auto-create", true, "whether the nodes create a topic on first use (auto.create.topics.enable)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "run":
		return up(realkafka.Options{Nodes: *nodes, Dir: *dir, Heap: *heap, NoAutoCreate: !*autoCreate}, *envFile, stdout)
	case "stop":
		if *dir == "" {
			return errors.New("realkafka stop: -dir is required")
		}
		return stop(*dir)
	}
	return fmt.Errorf("realkafka: unknown command %q: want run or stop", args[0])
}

func up(o realkafka.Options, envFile string, stdout io.Writer) error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if o.Dir != "" {
		if err := os.MkdirAll(o.Dir, 0o700); err != nil {
			return err
		}
		o.Dir, _ = filepath.Abs(o.Dir)
		if err := os.WriteFile(filepath.Join(o.Dir, "realkafka.pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
			return err
		}
	}
	c, err := realkafka.Start(ctx, o)
	if err != nil {
		return err
	}
	defer c.Stop()
	var pids []string
	for _, nd := range c.Nodes {
		pids = append(pids, strconv.Itoa(nd.PID()))
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "pids"), []byte(strings.Join(pids, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	env := strings.Join(append(c.Env(), "KAFKAKIT_REALKAFKA_DIR="+c.Dir), "\n") + "\n"
	if envFile != "" {
		tmp := envFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(env), 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, envFile); err != nil {
			return err
		}
	}
	fmt.Fprint(stdout, env)
	fmt.Fprintf(stdout, "# Apache Kafka %s, %d node(s), auto.create.topics.enable=%t, logs in %s; Ctrl-C stops it\n",
		realkafka.KafkaVersion, len(c.Nodes), !o.NoAutoCreate, filepath.Join(c.Dir, "node-*", "server.log"))
	<-ctx.Done()
	return nil
}

// stop signals the run command of dir and waits for it, then kills any
// node process it left, as when run itself was killed.
func stop(dir string) error {
	if pid, err := readPID(filepath.Join(dir, "realkafka.pid")); err == nil && alive(pid, "") {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		waitGone(pid, 60*time.Second)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "pids"))
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err == nil && alive(pid, "kafka.Kafka") {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			waitGone(pid, 10*time.Second)
		}
	}
	return nil
}

func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// alive says whether pid runs and, when want is not empty, whether its
// command line contains want, so that a reused PID is left alone.
func alive(pid int, want string) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(cmdline) == 0 {
		return false
	}
	return want == "" || strings.Contains(string(cmdline), want)
}

func waitGone(pid int, maxWait time.Duration) {
	deadline := time.Now().Add(maxWait)
	for alive(pid, "") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
}
