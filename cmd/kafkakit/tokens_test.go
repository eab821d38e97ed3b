package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const (
	aliceToken = "aliceToken-0123456789abcdef"
	bobToken   = "bobToken-0123456789abcdef"
	carolToken = "carolToken-0123456789abcdef"
)

// askWith GETs url with token and returns the status, or the error.
func askWith(url, token string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestServeReloadsTokensOnSIGHUP: a real serve re-reads HTTP_TOKENS_FILE
// on SIGHUP while clients keep asking: none of their requests fails, a
// token added works and a token removed is answered 401 after the reload;
// a bad file then keeps the tokens in use and is logged at ERROR naming
// its line. No token appears in the log.
func TestServeReloadsTokensOnSIGHUP(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("alice " + aliceToken + " read,send:*\ncarol " + carolToken + " read\n")
	p := startProcess(t, []string{"HTTP_ADDR=127.0.0.1:0", "KAFKA_EMBEDDED_ADDR=127.0.0.1:0", "HTTP_TOKENS_FILE=" + file}, "serve", "--embedded")
	url := p.waitLine(t, "http server listening")["url"].(string)
	if got, err := askWith(url+"/kafka/whoami", bobToken); err != nil || got != http.StatusUnauthorized {
		t.Fatalf("bob before the reload: %d %v, want 401", got, err)
	}

	// Clients ask as alice all along, each a bounded number of times.
	var stop atomic.Bool
	var asked, failed atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := 0; i < 5000 && !stop.Load(); i++ {
				asked.Add(1)
				if got, err := askWith(url+"/kafka/whoami", aliceToken); err != nil || got != http.StatusOK {
					failed.Add(1)
					t.Errorf("alice during the reloads: %d %v", got, err)
					return
				}
			}
		})
	}
	t.Cleanup(func() { stop.Store(true); wg.Wait() })

	write("# carol left, bob came\nalice " + aliceToken + " read,send:*\nbob " + bobToken + " read\n")
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if line := p.waitLine(t, "bearer tokens reloaded"); line["tokens"] != float64(2) {
		t.Errorf("reload line %v, want tokens=2", line)
	}
	for _, tt := range []struct {
		who, token string
		want       int
	}{{"bob, added", bobToken, http.StatusOK}, {"carol, removed", carolToken, http.StatusUnauthorized}} {
		if got, err := askWith(url+"/kafka/topics", tt.token); err != nil || got != tt.want {
			t.Errorf("%s, after the reload: %d %v, want %d", tt.who, got, err, tt.want)
		}
	}

	write("alice " + aliceToken + " read\nbob " + bobToken + " read,write\n")
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	line := p.waitLine(t, "bearer tokens not reloaded: the tokens read before stay")
	if line["level"] != "ERROR" || line["line"] != float64(2) || !strings.Contains(fmt.Sprint(line["error"]), "line 2:") {
		t.Errorf("bad reload line %v, want ERROR naming line 2", line)
	}
	if got, err := askWith(url+"/kafka/topics", bobToken); err != nil || got != http.StatusOK {
		t.Errorf("bob after a bad file: %d %v, want 200: the tokens read before stay", got, err)
	}

	stop.Store(true)
	wg.Wait()
	if asked.Load() == 0 || failed.Load() != 0 {
		t.Errorf("alice asked %d times, %d failed", asked.Load(), failed.Load())
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit code %d", code)
	}
	for _, token := range []string{aliceToken, bobToken, carolToken} {
		if strings.Contains(p.log.String(), token) {
			t.Errorf("the log shows a token")
		}
	}
}

// TestServeRefusesABadTokensFile: a tokens file with a bad line stops
// serve at start-up with an error naming the file and the line, and not
// the token; so does a file that is not there.
func TestServeRefusesABadTokensFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "tokens")
	if err := os.WriteFile(bad, []byte("# ok so far\nalice "+aliceToken+" read\nbob read "+bobToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ file, want string }{
		{bad, `HTTP_TOKENS_FILE="` + bad + `": line 3: the token (second field) is shorter than 16 characters`},
		{filepath.Join(dir, "missing"), `HTTP_TOKENS_FILE="` + filepath.Join(dir, "missing") + `": open `},
	} {
		var stderr strings.Builder
		cmd := exec.Command(binary, "serve", "--embedded")
		cmd.Env = append(os.Environ(), "HTTP_TOKENS_FILE="+tt.file, "HTTP_ADDR=127.0.0.1:0", "KAFKA_EMBEDDED_ADDR=127.0.0.1:0")
		cmd.Stderr = &stderr
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if ee, ok := errors.AsType[*exec.ExitError](err); !ok || ee.ExitCode() == 0 {
				t.Errorf("%s: got %v, want a non-zero exit", tt.file, err)
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("%s: serve did not stop within 30s", tt.file)
		}
		if !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("stderr %q does not say %q", stderr.String(), tt.want)
		}
		if strings.Contains(stderr.String(), aliceToken) || strings.Contains(stderr.String(), bobToken) {
			t.Errorf("stderr shows a token: %q", stderr.String())
		}
	}
}
