package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/internal/env"
	"github.com/kafkakit/kafkakit/internal/service"
	"github.com/kafkakit/kafkakit/kafkatest"
)

// lockedBuffer is an io.Writer that goroutines share, for run's stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

// logLine returns the first JSON log line in out whose msg starts with
// msg, or nil.
func logLine(out, msg string) map[string]any {
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil {
			if m, _ := line["msg"].(string); strings.HasPrefix(m, msg) {
				return line
			}
		}
	}
	return nil
}

// TestServeEmbeddedListensOnLoopback: serve --embedded without HTTP_ADDR
// listens on 127.0.0.1:8080, never every interface, and the log says so.
// The test holds 127.0.0.1:8080 itself (or finds it held), so the address
// serve chose shows in the error naming it, and no test listens on 8080.
func TestServeEmbeddedListensOnLoopback(t *testing.T) {
	if ln, err := net.Listen("tcp", "127.0.0.1:8080"); err == nil {
		defer ln.Close()
	}
	var stderr lockedBuffer
	err := run(t.Context(), []string{"serve", "--embedded"}, env.Map(map[string]string{"KAFKA_EMBEDDED_ADDR": "127.0.0.1:0"}), io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), `HTTP_ADDR="127.0.0.1:8080" is in use`) {
		t.Fatalf("got %v, want the error of a taken 127.0.0.1:8080\n%s", err, stderr.String())
	}
	line := logLine(stderr.String(), "embedded mode: HTTP listens on 127.0.0.1:8080, this machine only")
	if line == nil || line["addr"] != "127.0.0.1:8080" {
		t.Errorf("no log line saying where HTTP listens:\n%s", stderr.String())
	}
}

// TestServeEmbeddedHTTPAddrWins: with HTTP_ADDR set, serve --embedded
// listens there, and says nothing of a default.
func TestServeEmbeddedHTTPAddrWins(t *testing.T) {
	var stderr lockedBuffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--embedded"},
			env.Map(map[string]string{"KAFKA_EMBEDDED_ADDR": "127.0.0.1:0", "HTTP_ADDR": "127.0.0.1:0"}), io.Discard, &stderr)
	}()
	var listening map[string]any
	kafkatest.WaitFor(t, 60*time.Second, func() error {
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v\n%s", err, stderr.String())
		default:
		}
		if listening = logLine(stderr.String(), "http server listening"); listening == nil {
			return errors.New("not listening yet")
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
	if addr, _ := listening["addr"].(string); !strings.HasPrefix(addr, "127.0.0.1:") || addr == "127.0.0.1:8080" {
		t.Errorf("listening on %q, want HTTP_ADDR's 127.0.0.1 and a port of its own", addr)
	}
	if logLine(stderr.String(), "embedded mode: HTTP listens") != nil {
		t.Errorf("the log speaks of a default HTTP address though HTTP_ADDR was set:\n%s", stderr.String())
	}
}

// dockerEnvFile reads an env file as docker run --env-file does: lines
// trimmed of leading white space, blank lines and lines starting with #
// skipped, NAME=VALUE split at the first =, the value taken as it is, with
// no quote processing; a name with white space is an error.
func dockerEnvFile(t *testing.T, file string) map[string]string {
	t.Helper()
	vars := map[string]string{}
	for line := range strings.Lines(file) {
		line = strings.TrimLeft(strings.TrimSuffix(line, "\n"), " \t\r\v\f")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, _ := strings.Cut(line, "=")
		if strings.ContainsAny(name, " \t") {
			t.Fatalf("docker --env-file refuses %q: the name has white space", line)
		}
		vars[name] = value
	}
	return vars
}

// shEnv runs script in sh with no other variable than PATH and returns
// the environment it ends with.
func shEnv(t *testing.T, script string, args ...string) map[string]string {
	t.Helper()
	cmd := exec.Command("sh", append([]string{"-c", script + "\nexec env -0", "sh"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("sh: %v\n%s", err, stderr.String())
	}
	vars := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		name, value, _ := strings.Cut(kv, "=")
		vars[name] = value
	}
	return vars
}

// TestEnvFileForShAndDocker: kafkakit env prints a file that a real sh
// sources and docker --env-file reads to the same values: those in
// effect. A value sh would need quoted is only in a comment, whose sh line
// gives the value exactly; a secret that is set shows nowhere.
func TestEnvFileForShAndDocker(t *testing.T) {
	set := map[string]string{
		"KAFKA_BROKERS": "k1:9092,k2:9092", "KAFKA_CLIENT_ID": "svc-1", "HTTP_ALLOWED_TOPICS": "orders.*,audit",
		"KAFKA_CONSUMER_TOPICS": "orders", "KAFKA_HANDLER": "webhook",
		"KAFKA_WEBHOOK_URL": "http://hook.local/in?a=1&b=$HOME", "KAFKA_GROUP_ID": "it's \"my\" group; `x` \\ ~",
		"KAFKA_SASL_MECHANISM": "plain", "KAFKA_SASL_USERNAME": "alice", "KAFKA_SASL_PASSWORD": "hunter2-secret",
		"KAFKA_WEBHOOK_HEADERS": "Authorization: Bearer token-secret", "HTTP_ADDR": "127.0.0.1:9000",
	}
	var out, errOut strings.Builder
	if err := run(t.Context(), []string{"env"}, env.Map(set), &out, &errOut); err != nil {
		t.Fatalf("env: %v\n%s", err, errOut.String())
	}
	file := out.String()
	for _, secret := range []string{"hunter2", "token-secret"} {
		if strings.Contains(file, secret) {
			t.Errorf("the file shows a secret:\n%s", file)
		}
	}
	path := filepath.Join(t.TempDir(), "kafkakit.env")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	sourced := shEnv(t, `set -a; . "$1"; set +a`, path)
	docker := dockerEnvFile(t, file)
	cfg, err := service.FromEnv(env.Map(set))
	if err != nil {
		t.Fatal(err)
	}
	quoted := map[string]bool{"KAFKA_WEBHOOK_URL": true, "KAFKA_GROUP_ID": true}
	secret := map[string]bool{"KAFKA_SASL_PASSWORD": true, "KAFKA_WEBHOOK_HEADERS": true}
	for _, v := range service.Vars {
		want := v.Value(cfg)
		sh, inSh := sourced[v.Name]
		d, inDocker := docker[v.Name]
		switch {
		case quoted[v.Name] || secret[v.Name]:
			if inSh || inDocker {
				t.Errorf("%s: sh read %q, docker %q; want it in a comment only", v.Name, sh, d)
			}
		case !inSh || !inDocker || sh != want || d != want:
			t.Errorf("%s: sh read %q (%t), docker %q (%t), want %q", v.Name, sh, inSh, d, inDocker, want)
		}
		if !quoted[v.Name] {
			continue
		}
		// The comment's sh line gives the value exactly.
		var line string
		for l := range strings.Lines(file) {
			if strings.HasPrefix(l, "# "+v.Name+"=") {
				line = strings.TrimPrefix(strings.TrimSuffix(l, "\n"), "# ")
			}
		}
		if got := shEnv(t, "export "+line)[v.Name]; got != set[v.Name] {
			t.Errorf("%s: the comment's line %q gives %q in sh, want %q", v.Name, line, got, set[v.Name])
		}
	}
	if n := len(docker); n != len(service.Vars)-len(quoted)-len(secret) {
		t.Errorf("docker reads %d variables, want %d", n, len(service.Vars)-len(quoted)-len(secret))
	}
}

// TestEnvFileRoundTrip: the defaults file, sourced in sh and read back by
// kafkakit env, prints the same file, and shows KAFKA_BATCH_SIZE's real
// default.
func TestEnvFileRoundTrip(t *testing.T) {
	var first, second, errOut strings.Builder
	if err := run(t.Context(), []string{"env"}, env.Map(nil), &first, &errOut); err != nil {
		t.Fatalf("env: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(first.String(), "\nKAFKA_BATCH_SIZE=1000012\n") {
		t.Errorf("KAFKA_BATCH_SIZE is not shown with its default 1000012:\n%s", first.String())
	}
	path := filepath.Join(t.TempDir(), "kafkakit.env")
	if err := os.WriteFile(path, []byte(first.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	sourced := shEnv(t, `set -a; . "$1"; set +a`, path)
	if err := run(t.Context(), []string{"env"}, env.Map(sourced), &second, &errOut); err != nil {
		t.Fatalf("env of the sourced file: %v\n%s", err, errOut.String())
	}
	if first.String() != second.String() {
		t.Errorf("env of the sourced file differs:\n%s\nwant\n%s", second.String(), first.String())
	}
}
