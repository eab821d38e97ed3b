package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
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
	kafkatest.Parallel(t)
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
	kafkatest.Parallel(t)
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
	kafkatest.Parallel(t)
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
	kafkatest.Parallel(t)
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

// TestVersionOf: the version set at build time wins, then the module's,
// with the VCS revision and time when Go stamped them; a build without
// any says so.
func TestVersionOf(t *testing.T) {
	kafkatest.Parallel(t)
	vcs := []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "3e7a7113985027394768a3aedc8a6439947dc246"},
		{Key: "vcs.time", Value: "2026-12-01T19:33:40Z"}, {Key: "vcs.modified", Value: "true"}}
	for _, tt := range []struct {
		set  string
		bi   *debug.BuildInfo
		want string
	}{
		{"v1.2.3", &debug.BuildInfo{Main: debug.Module{Version: "v0.9.0"}}, "v1.2.3"},
		{"", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0"},
		{"", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261201193340-3e7a71139850+dirty"}, Settings: vcs},
			"v0.0.0-20261201193340-3e7a71139850+dirty (revision 3e7a7113985027394768a3aedc8a6439947dc246, committed 2026-12-01T19:33:40Z, with uncommitted changes)"},
		{"", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs[:2]}, "(devel) (revision 3e7a7113985027394768a3aedc8a6439947dc246)"},
		{"", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "(devel): built without version control information (-buildvcs=false, or not in a git checkout)"},
		{"", nil, "(devel): no build information"},
	} {
		if got := versionOf(tt.set, tt.bi); got != tt.want {
			t.Errorf("versionOf(%q, %+v):\ngot  %s\nwant %s", tt.set, tt.bi, got, tt.want)
		}
	}
}

// TestVersionCommand: the real binary prints its VCS revision when its
// build info has one (go version -m shows it), and says it has none
// otherwise, as in a build with -buildvcs=false.
func TestVersionCommand(t *testing.T) {
	kafkatest.Parallel(t)
	out, err := exec.Command(binary, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	info, err := exec.Command("go", "version", "-m", binary).Output()
	if err != nil {
		t.Fatal(err)
	}
	var rev string
	for line := range strings.Lines(string(info)) {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "build" && strings.HasPrefix(f[1], "vcs.revision=") {
			rev = strings.TrimPrefix(f[1], "vcs.revision=")
		}
	}
	got := string(out)
	switch {
	case !strings.HasPrefix(got, "kafkakit "):
		t.Errorf("version printed %q", got)
	case rev != "" && !strings.Contains(got, "revision "+rev):
		t.Errorf("version printed %q; the build info has revision %s", got, rev)
	case rev == "" && !strings.Contains(got, "built without version control information"):
		t.Errorf("version printed %q; the build info has no revision", got)
	}
	t.Logf("%s", got)
}

// TestFlagMistakeIsOneLine: a mistyped flag is one line saying what is
// wrong and one saying where the help is, not the whole help.
func TestFlagMistakeIsOneLine(t *testing.T) {
	kafkatest.Parallel(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--embeded"}, "kafkakit serve: flag provided but not defined: -embeded\nrun `kafkakit serve -h` for help\n"},
		{[]string{"serve", "extra"}, "kafkakit serve: unexpected argument \"extra\"\nrun `kafkakit serve -h` for help\n"},
		{[]string{"env", "--all"}, "kafkakit env: flag provided but not defined: -all\nrun `kafkakit env -h` for help\n"},
		{[]string{"dlq", "replay", "--limit", "x"}, "kafkakit dlq replay: invalid value \"x\" for flag -limit: parse error\nrun `kafkakit dlq replay -h` for help\n"},
		{[]string{"bench", "produce", "--nope"}, "kafkakit bench produce: flag provided but not defined: -nope\nrun `kafkakit bench produce -h` for help\n"},
		{[]string{"frobnicate"}, "kafkakit: unknown command \"frobnicate\"\nrun `kafkakit help` for the commands\n"},
	} {
		var out, errOut strings.Builder
		err := run(t.Context(), tt.args, env.Map(nil), &out, &errOut)
		if exitCode(err) != 2 || errOut.String() != tt.want || out.Len() != 0 {
			t.Errorf("%v: exit %d, stderr\n%s\nwant\n%s", tt.args, exitCode(err), errOut.String(), tt.want)
		}
	}
}

// flagsOf returns the flags a command's -h lists.
func flagsOf(t *testing.T, args ...string) []string {
	t.Helper()
	var out, errOut strings.Builder
	if err := run(t.Context(), append(args, "-h"), env.Map(nil), &out, &errOut); err != nil {
		t.Fatalf("%v -h: %v", args, err)
	}
	var flags []string
	for line := range strings.Lines(out.String()) {
		if name, ok := strings.CutPrefix(line, "  -"); ok {
			flags = append(flags, "--"+strings.Fields(name)[0])
		}
	}
	if len(flags) == 0 {
		t.Fatalf("%v -h lists no flag:\n%s", args, out.String())
	}
	return flags
}

// TestHelpNamesEverything: kafkakit help names every command, every
// bench workload and every flag each command's -h lists.
func TestHelpNamesEverything(t *testing.T) {
	kafkatest.Parallel(t)
	var out, errOut strings.Builder
	if err := run(t.Context(), []string{"help"}, env.Map(nil), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	help := out.String()
	for _, w := range []string{"kafkakit serve", "kafkakit env", "kafkakit dlq replay", "kafkakit bench", "kafkakit version", "kafkakit help"} {
		if !strings.Contains(help, w) {
			t.Errorf("kafkakit help does not name %q:\n%s", w, help)
		}
	}
	var flags []string
	for _, mode := range benchModes {
		if !strings.Contains(help, mode) {
			t.Errorf("kafkakit help does not name the bench workload %q", mode)
		}
		flags = append(flags, flagsOf(t, "bench", mode)...)
	}
	flags = append(flags, flagsOf(t, "dlq", "replay")...)
	flags = append(flags, flagsOf(t, "serve")...)
	for _, f := range flags {
		if !regexp.MustCompile(regexp.QuoteMeta(f) + `([^a-z-]|$)`).MatchString(help) {
			t.Errorf("kafkakit help does not name %s:\n%s", f, help)
		}
	}
}

// TestQuickStartWatchATopic: the README's way to watch a topic works while
// the first service runs: a second serve, without --embedded, on the first
// one's broker and its own HTTP port, logs the messages sent through the
// first, those sent before it started included.
func TestQuickStartWatchATopic(t *testing.T) {
	kafkatest.Parallel(t)
	first := startProcess(t, []string{"HTTP_ADDR=127.0.0.1:0", "KAFKA_EMBEDDED_ADDR=127.0.0.1:0"}, "serve", "--embedded")
	broker := first.waitLine(t, "embedded Kafka broker started: for development only, not for production")["addr"].(string)
	url := first.waitLine(t, "http server listening")["url"].(string)
	send := func(key string) {
		t.Helper()
		resp, err := http.Post(url+"/kafka/send", "application/json", strings.NewReader(`{"topic":"user-events","key":"`+key+`","value":{"userId":"123"}}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("send: %d %s", resp.StatusCode, body)
		}
	}
	send("before")
	watcher := startProcess(t, []string{"KAFKA_BROKERS=" + broker, "HTTP_ADDR=127.0.0.1:0",
		"KAFKA_CONSUMER_TOPICS=user-events", "KAFKA_CONSUMER_FROM_BEGINNING=true"}, "serve")
	if line := watcher.waitLine(t, "message"); line["topic"] != "user-events" || line["key"] != "before" {
		t.Errorf("the watcher logged %v, want the message sent before it started", line)
	}
	send("after")
	if line := watcher.waitLine(t, "message"); line["key"] != "after" {
		t.Errorf("the watcher logged %v, want the message sent after it started", line)
	}
	if code := watcher.stop(t); code != 0 {
		t.Errorf("the watcher exited %d", code)
	}
	if code := first.stop(t); code != 0 {
		t.Errorf("the first service exited %d", code)
	}
}
