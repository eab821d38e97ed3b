// Package docs holds the tests that keep the README and the pages of docs/
// true: the README's program is built and run, every page is in the
// README's index, and every link between them leads somewhere.
package docs

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
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
var pending = []string{"docs/topics.md"}

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
