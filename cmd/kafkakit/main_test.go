package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// binary is the kafkakit binary built once for the subprocess tests.
var binary string

func TestMain(m *testing.M) {
	kafkatest.RaiseParallelism()
	dir, err := os.MkdirTemp("", "kafkakit-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "kafkakit")
	args := []string{"build", "-o", binary, "."}
	if raceBuild {
		args = []string{"build", "-race", "-o", binary, "."}
	}
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		// -race needs cgo; fall back to a plain build.
		if out2, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build kafkakit: %v\n%s\n%s", err, out, out2)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// sigkillTest skips t under -short: it SIGKILLs kafkakit processes and
// waits for what comes after, which takes seconds. CI runs the tests
// without -short, so they run there.
func sigkillTest(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("a SIGKILL test; it runs without -short")
	}
}

// process is a running `kafkakit` subprocess whose JSON log lines are
// watched.
type process struct {
	cmd   *exec.Cmd
	lines chan map[string]any
	done  chan error
	log   strings.Builder
}

func startProcess(t testing.TB, env []string, args ...string) *process {
	t.Helper()
	return startBinary(t, binary, env, args...)
}

// startBinary is startProcess with another build of kafkakit.
func startBinary(t testing.TB, bin string, env []string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, lines: make(chan map[string]any, 1000), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.log.WriteString(sc.Text() + "\n")
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil {
				select {
				case p.lines <- line:
				default:
				}
			}
		}
		close(p.lines)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("kafkakit output:\n%s", p.log.String())
		}
	})
	return p
}

// waitLine returns the first log line whose msg is msg.
func (p *process) waitLine(t *testing.T, msg string) map[string]any {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("kafkakit exited before logging %q", msg)
			}
			if line["msg"] == msg {
				return line
			}
		case <-timeout:
			t.Fatalf("kafkakit did not log %q within 60s", msg)
		}
	}
}

// stop sends SIGTERM and returns the exit code.
func (p *process) stop(t testing.TB) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range p.lines { // drain, so the reader can finish
	}
	select {
	case err := <-p.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ee.ExitCode() < 0 {
				t.Logf("kafkakit ended by %v after SIGTERM", ee.ProcessState)
			}
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(60 * time.Second):
		t.Fatal("kafkakit did not exit within 60s of SIGTERM")
	}
	return -1
}

// kill sends SIGKILL and waits until the process has exited.
func (p *process) kill(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

func TestServeEmbeddedEndToEnd(t *testing.T) {
	p := startProcess(t, []string{
		"HTTP_ADDR=127.0.0.1:0",
		"KAFKA_EMBEDDED_ADDR=127.0.0.1:0",
		"KAFKA_CONSUMER_TOPICS=greetings",
		"KAFKA_CONSUMER_FROM_BEGINNING=true",
		"LOG_LEVEL=info",
	}, "serve", "--embedded")
	warn := p.waitLine(t, "embedded Kafka broker started: for development only, not for production")
	if warn["level"] != "WARN" {
		t.Errorf("embedded broker line at level %v, want WARN", warn["level"])
	}
	brokerAddr := warn["addr"].(string)
	url := p.waitLine(t, "http server listening")["url"].(string)

	kafkatest.WaitFor(t, 30*time.Second, func() error {
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("/readyz: %d", resp.StatusCode)
		}
		return nil
	})
	resp, err := http.Post(url+"/kafka/send", "application/json",
		strings.NewReader(`{"topic":"greetings","key":"k1","value":{"hello":"world"},"headers":{"source":"test"}}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("send: %d %s", resp.StatusCode, body)
	}

	// The log handler saw it.
	line := p.waitLine(t, "message")
	if line["topic"] != "greetings" || line["key"] != "k1" || line["value"] != `{"hello":"world"}` {
		t.Errorf("log handler line: %v", line)
	}

	// A franz-go client reads it back from the embedded broker.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokerAddr), kgo.ConsumeTopics("greetings"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fetches := cl.PollFetches(ctx)
	if errs := fetches.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	recs := fetches.Records()
	if len(recs) != 1 || string(recs[0].Key) != "k1" || string(recs[0].Value) != `{"hello":"world"}` {
		t.Fatalf("read back %d records: %v", len(recs), recs)
	}
	if len(recs[0].Headers) != 1 || recs[0].Headers[0].Key != "source" || string(recs[0].Headers[0].Value) != "test" {
		t.Errorf("headers %v", recs[0].Headers)
	}

	if code := p.stop(t); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	if !strings.Contains(p.log.String(), `"msg":"kafkakit stopped"`) {
		t.Error("no clean stop logged")
	}
}

func TestEmbeddedDataSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	env := []string{"HTTP_ADDR=127.0.0.1:0", "KAFKA_BROKERS=embedded", "KAFKA_EMBEDDED_ADDR=127.0.0.1:0", "KAFKA_EMBEDDED_DATA_DIR=" + dir}
	send := func(p *process) map[string]any {
		url := p.waitLine(t, "http server listening")["url"].(string)
		resp, err := http.Post(url+"/kafka/send", "application/json", strings.NewReader(`{"topic":"kept","value":"v"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != 200 {
			t.Fatalf("send: %d %v", resp.StatusCode, out)
		}
		return out
	}
	first := startProcess(t, env, "serve")
	if got := send(first)["offset"]; got != float64(0) {
		t.Fatalf("first offset %v", got)
	}
	if code := first.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	second := startProcess(t, env, "serve")
	if got := send(second)["offset"]; got != float64(1) {
		t.Errorf("offset after restart %v, want 1: the data directory did not keep the topic", got)
	}
	second.stop(t)
}

func TestBadConfigurationExitsAtOnce(t *testing.T) {
	for _, tt := range []struct {
		env  string
		want string
	}{
		{"KAFKA_SESSION_TIMEOUT=abc", `KAFKA_SESSION_TIMEOUT: "abc" is not a whole number of milliseconds`},
		{"HTTP_MAX_BATCH=0", `HTTP_MAX_BATCH: "0" must be at least 1`},
		{"KAFKA_HANDLER=email", `KAFKA_HANDLER: "email" must be one of log, webhook`},
		{"KAFKA_HANDLER=webhook", `KAFKA_WEBHOOK_URL must be set with KAFKA_HANDLER=webhook`},
		{"KAFKA_SASL_PASSWORD=hunter2-secret", `KAFKA_SASL_PASSWORD is set but KAFKA_SASL_MECHANISM is not`},
	} {
		var stderr strings.Builder
		cmd := exec.Command(binary, "serve")
		cmd.Env = append(os.Environ(), tt.env, "HTTP_ADDR=127.0.0.1:0")
		cmd.Stderr = &stderr
		start := time.Now()
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() == 0 {
			t.Errorf("%s: got %v, want a non-zero exit", tt.env, err)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("%s: took %v to exit", tt.env, took)
		}
		if !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%s: stderr %q does not say %q", tt.env, stderr.String(), tt.want)
		}
		if strings.Contains(stderr.String(), "hunter2-secret") {
			t.Errorf("%s: stderr shows the password", tt.env)
		}
	}
}

func TestCommands(t *testing.T) {
	var out, errOut strings.Builder
	if err := run(context.Background(), []string{"version"}, os.LookupEnv, &out, &errOut); err != nil || !strings.HasPrefix(out.String(), "kafkakit ") {
		t.Errorf("version: %v %q", err, out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"help"}, os.LookupEnv, &out, &errOut); err != nil || !strings.Contains(out.String(), "kafkakit serve") {
		t.Errorf("help: %v %q", err, out.String())
	}
	for _, args := range [][]string{nil, {"frobnicate"}, {"serve", "--nope"}, {"serve", "extra"}} {
		errOut.Reset()
		err := run(context.Background(), args, os.LookupEnv, &out, &errOut)
		if exitCode(err) != 2 || errOut.Len() == 0 {
			t.Errorf("%v: got %v (exit %d), stderr %q; want usage and exit 2", args, err, exitCode(err), errOut.String())
		}
	}
}

func TestDLQReplayCommand(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders.dlq", 1), kafkatest.Topic("orders", 1))
	c.Produce(t, &kgo.Record{Topic: "orders.dlq", Key: []byte("k"), Value: []byte("v"), Headers: []kgo.RecordHeader{
		{Key: "kafka_dlt-original-topic", Value: []byte("orders")},
		{Key: "kafka_dlt-exception-message", Value: []byte("boom")},
	}})
	env := map[string]string{"KAFKA_BROKERS": strings.Join(c.Addrs(), ","), "LOG_LEVEL": "error"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var out, errOut strings.Builder
	if err := run(t.Context(), []string{"dlq", "replay", "--topic", "orders.dlq", "--dry-run"}, lookup, &out, &errOut); err != nil {
		t.Fatalf("dry run: %v\n%s", err, errOut.String())
	}
	if got := out.String(); !strings.Contains(got, `would replay partition=0 offset=0 key="k" to=orders error="boom"`) ||
		!strings.Contains(got, "would replay 1 dead letters from orders.dlq (orders=1)") {
		t.Errorf("dry run printed %q", got)
	}
	out.Reset()
	if err := run(t.Context(), []string{"dlq", "replay", "--topic", "orders.dlq"}, lookup, &out, &errOut); err != nil {
		t.Fatalf("replay: %v\n%s", err, errOut.String())
	}
	if got := out.String(); !strings.Contains(got, "replayed 1 dead letters from orders.dlq (orders=1); 0 left") {
		t.Errorf("replay printed %q", got)
	}
	out.Reset()
	if err := run(t.Context(), []string{"dlq", "replay", "--topic", "orders.dlq"}, lookup, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, "nothing to replay in orders.dlq") {
		t.Errorf("second replay printed %q", got)
	}
	for _, args := range [][]string{{"dlq"}, {"dlq", "purge"}, {"dlq", "replay"}, {"dlq", "replay", "--topic", "x", "--limit", "-1"}} {
		errOut.Reset()
		if err := run(t.Context(), args, lookup, &out, &errOut); exitCode(err) != 2 || errOut.Len() == 0 {
			t.Errorf("%v: got %v, want usage and exit 2", args, err)
		}
	}
}

// TestBenchCommand runs each bench mode briefly: the numbers are not
// checked, the paths are.
func TestBenchCommand(t *testing.T) {
	profile := filepath.Join(t.TempDir(), "cpu.prof")
	for _, args := range [][]string{
		{"bench", "produce", "--embedded", "--baseline", "--messages", "2000"},
		{"bench", "produce", "--embedded", "--discard", "--async", "--messages", "2000", "--baseline", "--rounds", "2"},
		{"bench", "consume", "--embedded", "--baseline", "--messages", "2000"},
		{"bench", "keyed", "--embedded", "--baseline", "--messages", "300", "--concurrency", "20", "--keys", "50", "--handler-wait", "1ms"},
		{"bench", "retry", "--embedded", "--messages", "2000", "--keys", "20", "--rounds", "2", "--concurrency", "2"},
		{"bench", "http", "--embedded", "--baseline", "--messages", "500", "--concurrency", "4", "--cpuprofile", profile},
		{"bench", "http", "--embedded", "--spawn", "--serve-binary", binary, "--verify", "--messages", "2000", "--batch", "100", "--concurrency", "4", "--size", "1024"},
		{"bench", "http", "--embedded", "--baseline", "--messages", "2000", "--stream", "4"},
		{"bench", "http", "--embedded", "--verify", "--messages", "400", "--stream", "4", "--read-delay", "1ms"},
	} {
		var out, errOut strings.Builder
		if err := run(t.Context(), args, os.LookupEnv, &out, &errOut); err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, out.String(), errOut.String())
		}
		if !strings.Contains(out.String(), "msgs/s") {
			t.Errorf("%v printed no table:\n%s", args, out.String())
		}
		if args[1] == "retry" && !strings.Contains(out.String(), "with K failing: ratio ") {
			t.Errorf("%v printed no ratio:\n%s", args, out.String())
		}
		if args[1] == "http" && slices.Contains(args, "--baseline") &&
			(!strings.Contains(out.String(), "net/http no-op ") || !strings.Contains(out.String(), "ceiling: ")) {
			t.Errorf("%v printed no no-op ceiling:\n%s", args, out.String())
		}
	}
	if st, err := os.Stat(profile); err != nil || st.Size() == 0 {
		t.Errorf("--cpuprofile wrote no profile: %v", err)
	}
	var out, errOut strings.Builder
	if err := run(t.Context(), []string{"bench", "consume", "--embedded", "--discard"}, os.LookupEnv, &out, &errOut); exitCode(err) != 2 {
		t.Errorf("--discard with consume: got %v, want a usage error", err)
	}
	if err := run(t.Context(), []string{"bench", "http", "--embedded", "--read-delay", "1ms"}, os.LookupEnv, &out, &errOut); exitCode(err) != 2 {
		t.Errorf("--read-delay without --stream: got %v, want a usage error", err)
	}
	if err := run(t.Context(), []string{"bench", "retry", "--embedded", "--keys", "1"}, os.LookupEnv, &out, &errOut); exitCode(err) != 2 {
		t.Errorf("retry with one key: got %v, want a usage error", err)
	}
}
