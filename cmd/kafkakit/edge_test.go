package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/internal/env"
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
