// Package docs holds the tests that keep the README and the pages of docs/
// true: the README's program is built and run, every page is in the
// README's index, and every link between them leads somewhere.
package docs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/webhook"
)

// readmeProgram is the README's one program: its only Go block that is a
// whole program.
func readmeProgram(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var programs []string
	for _, block := range strings.Split(string(b), "```go\n")[1:] {
		code, _, ok := strings.Cut(block, "```\n")
		if ok && strings.Contains(code, "\npackage main\n") {
			programs = append(programs, code)
		}
	}
	if len(programs) != 1 {
		t.Fatalf("the README has %d Go blocks with package main, want 1", len(programs))
	}
	return programs[0]
}

// TestReadmeProgram builds the README's program as a user would, in a
// module that requires kafkakit (this one), and runs it against an
// in-process broker: it must send its event, receive it back and exit 0.
func TestReadmeProgram(t *testing.T) {
	kafkatest.Parallel(t)
	if testing.Short() {
		t.Skip("builds a program")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte(readmeProgram(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "hello")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, src)
	build.Dir = ".." // the module's root, so that its packages resolve
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build of the README's program: %v\n%s", err, out)
	}

	cluster := kafkatest.NewCluster(t, kafkatest.Topic("user-events", 1))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	run := exec.CommandContext(ctx, bin)
	run.Env = append(os.Environ(), "KAFKA_BROKERS="+strings.Join(cluster.Addrs(), ","), "KAFKA_GROUP_ID=hello", "LOG_LEVEL=warn")
	var stdout, stderr bytes.Buffer
	run.Stdout, run.Stderr = &stdout, &stderr
	if err := run.Run(); err != nil {
		t.Fatalf("the README's program: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	slices.Sort(lines) // the consumer may print before SendJSON returns
	want := []string{
		"received user_created of user 123 (user-events, partition 0, offset 0)",
		"sent user_created of user 123 (user-events, partition 0, offset 0)",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("the README's program printed\n%s\nwant (in any order)\n%s\nstderr:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"), &stderr)
	}
}

// TestReadmeIsShort: the README is the front door; the rest is in docs/.
func TestReadmeIsShort(t *testing.T) {
	kafkatest.Parallel(t)
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte("\n")); n > 300 {
		t.Errorf("the README has %d lines; keep it under 300 and move the rest to a page of docs/", n)
	}
}

// TestEveryPageIsInTheIndex: each page of docs/ is linked from the README's
// table of the documentation.
func TestEveryPageIsInTheIndex(t *testing.T) {
	kafkatest.Parallel(t)
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, index, ok := strings.Cut(string(b), "\n## Documentation\n")
	if !ok {
		t.Fatal("the README has no section ## Documentation")
	}
	pages, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, page := range pages {
		if !strings.Contains(index, "](docs/"+page+")") {
			t.Errorf("docs/%s is not in the README's ## Documentation table", page)
		}
	}
}

// pending are pages the README's index links before they are written. The
// test fails once one exists, so that it leaves this list and its links
// are checked like the others.
var pending = []string{}

var (
	mdLink  = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	heading = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
)

// anchors are the fragments GitHub gives a page's headings.
func anchors(page string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	inCode := false
	for line := range strings.Lines(page) {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		m := heading.FindStringSubmatch(strings.TrimRight(line, "\n"))
		if inCode || m == nil {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case r == ' ' || r == '-':
				b.WriteRune('-')
			case r == '_' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r > 127:
				b.WriteRune(r)
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			out[a+"-"+strconv.Itoa(n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

// TestLinksLead: every relative link of the README and of docs/ names a
// file of the repository, and a heading of it when it has a #fragment.
func TestLinksLead(t *testing.T) {
	kafkatest.Parallel(t)
	pages, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pages {
		pages[i] = "docs/" + p // paths from the repository's root
	}
	pages = append(pages, "README.md")
	for _, p := range pending {
		if _, err := os.Stat(filepath.Join("..", p)); err == nil {
			t.Errorf("%s exists: take it off the pending list", p)
		}
	}
	for _, page := range pages {
		b, err := os.ReadFile(filepath.Join("..", page))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mdLink.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, frag, _ := strings.Cut(target, "#")
			linked := page
			if file != "" {
				linked = path.Join(path.Dir(page), file)
			}
			if slices.Contains(pending, linked) {
				continue
			}
			text, err := os.ReadFile(filepath.Join("..", linked))
			if err != nil {
				t.Errorf("%s links %s, which is not there: %v", page, target, err)
				continue
			}
			if frag != "" && !anchors(string(text))[frag] {
				t.Errorf("%s links %s, but %s has no heading for #%s", page, target, linked, frag)
			}
		}
	}
}

// example is a curl command of the README and the answer it shows.
type example struct{ curl, answer string }

// quickStartExamples are the quick start's curl commands, each with the
// JSON block that follows it.
func quickStartExamples(t *testing.T) []example {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Quick start\n")
	if !ok {
		t.Fatal("the README has no section ## Quick start")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	curlThenJSON := regexp.MustCompile("(?s)```sh\n(curl [^`]*?)```\n```json\n([^`]*?)```\n")
	var out []example
	for _, m := range curlThenJSON.FindAllStringSubmatch(section, -1) {
		out = append(out, example{curl: m[1], answer: strings.TrimSpace(m[2])})
	}
	return out
}

// shellWords splits a command as sh would for the quick start's commands:
// blanks separate words, single quotes keep their text as it is, and a
// backslash before a newline joins the lines.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var word strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\'':
			quoted = false
		case quoted:
			word.WriteByte(c)
		case c == '\'':
			quoted, inWord = true, true
		case c == '\\' && i+1 < len(s) && s[i+1] == '\n':
			i++
		case c == '\\' || c == '"' || c == '$' || c == '`':
			t.Fatalf("the example %q uses %q, which this test does not read as sh does", s, c)
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("the example %q has an unclosed quote", s)
	}
	if inWord {
		words = append(words, word.String())
	}
	return words
}

// curlRequest makes the request a quick start curl command sends, to base
// in place of localhost:8080.
func curlRequest(t *testing.T, command, base string) *http.Request {
	t.Helper()
	words := shellWords(t, command)
	var url, body string
	header := http.Header{}
	for i := 1; i < len(words); i++ {
		switch w := words[i]; {
		case w == "-s" || w == "-XPOST":
		case (w == "-H" || w == "-d") && i+1 < len(words):
			i++
			if w == "-d" {
				body = words[i]
				continue
			}
			name, value, ok := strings.Cut(words[i], ":")
			if !ok {
				t.Fatalf("header %q in %q", words[i], command)
			}
			header.Add(name, strings.TrimSpace(value))
		case strings.HasPrefix(w, "localhost:8080/"):
			url = base + strings.TrimPrefix(w, "localhost:8080")
		default:
			t.Fatalf("the example %q has %q, which this test does not know", command, w)
		}
	}
	if url == "" || body == "" {
		t.Fatalf("the example %q has no URL on localhost:8080 or no -d body", command)
	}
	req, err := http.NewRequestWithContext(t.Context(), "POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	return req
}

// TestQuickStartExamples runs the README's quick start: kafkakit serve
// --embedded (on free ports), then each curl command, in order, whose
// answer must be the one the README shows, timestamps aside.
func TestQuickStartExamples(t *testing.T) {
	kafkatest.Parallel(t)
	if testing.Short() {
		t.Skip("builds and runs kafkakit")
	}
	examples := quickStartExamples(t)
	if len(examples) < 3 {
		t.Fatalf("found %d curl examples with their answers in the quick start, want at least 3", len(examples))
	}
	base := startEmbedded(t)

	timestamp := regexp.MustCompile(`"timestamp":"[^"]*"`)
	for _, ex := range examples {
		resp, err := http.DefaultClient.Do(curlRequest(t, ex.curl, base))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		norm := func(s string) string { return timestamp.ReplaceAllString(strings.TrimSpace(s), `"timestamp":"..."`) }
		if norm(string(got)) != norm(ex.answer) {
			t.Errorf("%s\nanswered %s\nthe README shows %s", ex.curl, got, ex.answer)
		}
	}
}

// startEmbedded builds kafkakit and runs kafkakit serve --embedded on free
// ports until the test ends, and returns the URL its log names.
func startEmbedded(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kafkakit")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/kafkakit")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/kafkakit: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "serve", "--embedded")
	cmd.Env = append(os.Environ(), "HTTP_ADDR=127.0.0.1:0", "KAFKA_EMBEDDED_ADDR=127.0.0.1:0", "LOG_FORMAT=json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	var log bytes.Buffer // written by the reader only, read after it ended
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			log.Write(sc.Bytes())
			log.WriteByte('\n')
			var line struct{ Msg, URL string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "http server listening" {
				select {
				case urls <- line.URL:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { <-read; done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("kafkakit serve --embedded ended with %v", err)
			}
		case <-time.After(time.Minute):
			cmd.Process.Kill()
			<-done
			t.Errorf("kafkakit serve --embedded did not end within a minute of SIGTERM")
		}
		if t.Failed() {
			t.Logf("kafkakit's log:\n%s", &log)
		}
	})
	select {
	case url := <-urls:
		return url
	case <-read:
		t.Fatal("kafkakit serve --embedded ended before it listened")
	case <-time.After(time.Minute):
		t.Fatal("kafkakit serve --embedded did not listen within a minute")
	}
	return ""
}

// TestHTTPAPIExamples: the answers docs/http-api.md quotes for bad bodies
// are the ones kafkakit serve gives.
func TestHTTPAPIExamples(t *testing.T) {
	kafkatest.Parallel(t)
	if testing.Short() {
		t.Skip("builds and runs kafkakit")
	}
	b, err := os.ReadFile("http-api.md")
	if err != nil {
		t.Fatal(err)
	}
	page := strings.Join(strings.Fields(string(b)), " ")
	base := startEmbedded(t)
	for _, c := range []struct {
		route, body string
		want        string // in the page, and in the answer (its message, or all of it)
	}{
		{"/kafka/send", strings.Repeat("[", 129), "the request body is not valid JSON: arrays and objects nest deeper than 128 levels at byte 128"},
		{"/kafka/send-batch", `{"messages":[{"topic":"t"},{"topic":"t"},{"topic":"t","headers":{"x":"\ud800"}}]}`,
			`{"error":{"code":"invalid_request","message":"holds a lone UTF-16 surrogate (\\ud800), which is not text (the string at byte 69)","field":"messages[2].headers.x"}}`},
		{"/kafka/send", `{"topic":"t",5}`, "the request body is not valid JSON: expected a string for an object key, found '5' at byte 13"},
	} {
		if !strings.Contains(page, c.want) {
			t.Errorf("docs/http-api.md does not quote %s", c.want)
		}
		resp, err := http.Post(base+c.route, "application/json", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(got), c.want) {
			t.Errorf("POST %s %.40s answered %d %s, want 400 with %s", c.route, c.body, resp.StatusCode, got, c.want)
		}
	}
}

// verifyProgram wraps the Go verification of docs/webhooks.md in a program
// that reads a captured call from its input and prints whether the function
// accepts it.
const verifyProgram = `package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// VERIFIED

func main() {
	var call struct {
		Header http.Header
		Body   []byte
		Secret string
	}
	if err := json.NewDecoder(os.Stdin).Decode(&call); err != nil {
		panic(err)
	}
	fmt.Println(verified(&http.Request{Header: call.Header}, call.Body, call.Secret))
}
`

// TestWebhookVerifyExample: the Go function docs/webhooks.md gives to check
// a signature accepts a call the webhook handler signed, and refuses it
// with another secret or another body.
func TestWebhookVerifyExample(t *testing.T) {
	kafkatest.Parallel(t)
	if testing.Short() {
		t.Skip("builds a program")
	}
	b, err := os.ReadFile("webhooks.md")
	if err != nil {
		t.Fatal(err)
	}
	var snippet string
	for _, block := range strings.Split(string(b), "```go\n")[1:] {
		if code, _, ok := strings.Cut(block, "```\n"); ok && strings.Contains(code, "func verified(") {
			snippet = code
		}
	}
	if snippet == "" {
		t.Fatal("docs/webhooks.md has no Go block with func verified(")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte(strings.Replace(verifyProgram, "// VERIFIED\n", snippet, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "verify")
	if out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("go build of the verification of docs/webhooks.md: %v\n%s", err, out)
	}

	// A call signed by the webhook handler, as a receiver gets it.
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	type call struct {
		Header http.Header
		Body   []byte
	}
	calls := make(chan call, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		select {
		case calls <- call{r.Header.Clone(), body}:
		default:
		}
	}))
	defer srv.Close()
	key, err := webhook.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	msg := &consumer.Message{Topic: "orders", Partition: 2, Offset: 41, Key: []byte("order-7"), Value: []byte(`{"total":12.5}`), Timestamp: time.Now(), Attempt: 1}
	if err := webhook.New(srv.URL, webhook.Sign(key)).Handle(t.Context(), msg); err != nil {
		t.Fatal(err)
	}
	signed := <-calls

	for _, c := range []struct {
		name, secret string
		body         []byte
		want         string
	}{
		{"signed", secret, signed.Body, "true"},
		{"another secret", "whsec_" + base64.StdEncoding.EncodeToString([]byte("another key of 24 bytes!")), signed.Body, "false"},
		{"another body", secret, append(bytes.Clone(signed.Body), ' '), "false"},
	} {
		in, err := json.Marshal(map[string]any{"Header": signed.Header, "Body": c.body, "Secret": c.secret})
		if err != nil {
			t.Fatal(err)
		}
		run := exec.CommandContext(t.Context(), bin)
		run.Stdin = bytes.NewReader(in)
		out, err := run.Output()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := strings.TrimSpace(string(out)); got != c.want {
			t.Errorf("%s: verified answered %s, want %s", c.name, got, c.want)
		}
	}
}

// TestMetricsAreDocumented: every metric the metrics package defines is
// named on docs/operating.md, whose table lists them.
func TestMetricsAreDocumented(t *testing.T) {
	kafkatest.Parallel(t)
	page, err := os.ReadFile("operating.md")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("../metrics/*.go")
	if err != nil {
		t.Fatal(err)
	}
	defined := regexp.MustCompile(`Namespace: *Namespace, *Name: *"([a-z_]+)"|Namespace *\+ *"_([a-z_]+)"`)
	found := 0
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range defined.FindAllStringSubmatch(string(src), -1) {
			name := "kafkakit_" + m[1] + m[2]
			found++
			if !bytes.Contains(page, []byte("`"+name+"`")) && !bytes.Contains(page, []byte("`"+name+"{")) {
				t.Errorf("%s defines %s, which docs/operating.md does not name", filepath.Base(file), name)
			}
		}
	}
	if found < 15 {
		t.Errorf("found %d metrics in the metrics package; are they still defined with Namespace?", found)
	}
}

// TestIdempotencyKeyExample sends the curl command of docs/exactly-once.md
// twice to kafkakit serve --embedded: the second answer is the first one
// replayed, and the topic holds one record.
func TestIdempotencyKeyExample(t *testing.T) {
	kafkatest.Parallel(t)
	if testing.Short() {
		t.Skip("builds and runs kafkakit")
	}
	b, err := os.ReadFile("exactly-once.md")
	if err != nil {
		t.Fatal(err)
	}
	_, example, ok := strings.Cut(string(b), "\n### Example\n\n```sh\n")
	if !ok {
		t.Fatal("docs/exactly-once.md has no ### Example with a sh block")
	}
	example, _, _ = strings.Cut(example, "\n#")
	base := startEmbedded(t)

	send := func() (*http.Response, string) {
		t.Helper()
		resp, err := http.DefaultClient.Do(curlRequest(t, example, base))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(body)
	}
	// Until the Idempotency-Key store has read its topic, a key gets 503
	// and nothing is sent.
	deadline := time.Now().Add(time.Minute)
	first, firstBody := send()
	for first.StatusCode == http.StatusServiceUnavailable && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		first, firstBody = send()
	}
	if first.StatusCode != http.StatusOK || !strings.HasPrefix(firstBody, `{"topic":"orders","partition":0,"offset":0,`) {
		t.Fatalf("first send: %d %s", first.StatusCode, firstBody)
	}
	again, againBody := send()
	if again.StatusCode != http.StatusOK || again.Header.Get("Idempotent-Replayed") != "true" || againBody != firstBody {
		t.Errorf("the same again: %d Idempotent-Replayed %q %s, want 200, true and the first body %s",
			again.StatusCode, again.Header.Get("Idempotent-Replayed"), againBody, firstBody)
	}
	resp, err := http.Get(base + "/kafka/topics/orders")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var topic struct{ Messages int64 }
	if err := json.NewDecoder(resp.Body).Decode(&topic); err != nil {
		t.Fatal(err)
	}
	if topic.Messages != 1 {
		t.Errorf("orders holds %d messages, want 1", topic.Messages)
	}
}
