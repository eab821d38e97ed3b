package service

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kafkakit/kafkakit/kafkatest"
)

// configurationPage is the configuration reference, whose tables are
// rendered from Vars.
const configurationPage = "../../docs/configuration.md"

var update = flag.Bool("update", false, "rewrite the generated tables of docs/configuration.md from Vars")

// The generated part of the configuration page lies between these lines.
const (
	generatedBegin = "<!-- Generated from Vars in internal/service/vars.go: edit the list there, then run\n     go test ./internal/service -run TestConfigurationReference -update -->\n"
	generatedEnd   = "<!-- End of the generated tables. -->\n"
)

// TestVarsNameEveryVariable: the list serve -h and env print has every
// variable FromEnv reads, and no other; the configuration reference has
// them all.
func TestVarsNameEveryVariable(t *testing.T) {
	kafkatest.Parallel(t)
	var read []string
	FromEnv(func(name string) (string, bool) {
		if !strings.HasPrefix(name, "OTEL_") && !slices.Contains(read, name) {
			read = append(read, name)
		}
		return "", false
	})
	var listed []string
	for _, v := range Vars {
		listed = append(listed, v.Name)
	}
	slices.Sort(read)
	slices.Sort(listed)
	if !slices.Equal(read, listed) {
		t.Errorf("FromEnv reads\n%v\nVars lists\n%v", read, listed)
	}
	page, err := os.ReadFile(configurationPage)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range listed {
		if !strings.Contains(string(page), "`"+name+"`") {
			t.Errorf("docs/configuration.md does not document %s", name)
		}
	}
}

func TestPrintVars(t *testing.T) {
	kafkatest.Parallel(t)
	var b strings.Builder
	c := Defaults()
	c.Kafka.SASL.Password = "hunter2"
	PrintVars(&b, c)
	out := b.String()
	for _, want := range []string{"Kafka connection:\n", "  KAFKA_BROKERS=localhost:9092 ", "  HTTP_ADDR=:8080 ", "KAFKA_SASL_PASSWORD='[REDACTED]'", "OTEL_"} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not contain %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("output shows the password:\n%s", out)
	}
}

// renderVars writes the configuration reference's tables: one per group
// of Vars, each variable with its default (as serve -h shows it) and its
// meaning.
func renderVars() string {
	defaults := Defaults()
	var b strings.Builder
	b.WriteString(generatedBegin)
	group := ""
	for _, v := range Vars {
		if v.Group != group {
			group = v.Group
			fmt.Fprintf(&b, "\n### %s\n\n| variable | default | meaning |\n|---|---|---|\n", group)
		}
		def := v.Value(defaults)
		if def != "" {
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", v.Name, def, markdownText(v.Meaning))
	}
	b.WriteString("\n" + generatedEnd)
	return b.String()
}

// markdownText keeps a meaning's text as it is in a table cell: no tag,
// no cell break.
func markdownText(s string) string {
	return strings.NewReplacer("<", "&lt;", ">", "&gt;", "|", `\|`).Replace(s)
}

// TestConfigurationReference: the tables of docs/configuration.md are the
// ones rendered from Vars, so the reference cannot drift from serve -h and
// kafkakit env. With -update it rewrites them.
func TestConfigurationReference(t *testing.T) {
	kafkatest.Parallel(t)
	b, err := os.ReadFile(configurationPage)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	before, rest, ok := strings.Cut(page, generatedBegin)
	if !ok {
		t.Fatalf("docs/configuration.md has no line %q", strings.SplitN(generatedBegin, "\n", 2)[0])
	}
	_, after, ok := strings.Cut(rest, generatedEnd)
	if !ok {
		t.Fatalf("docs/configuration.md has no line %q after the generated tables", generatedEnd)
	}
	want := before + renderVars() + after
	if page == want {
		return
	}
	if *update {
		if err := os.WriteFile(configurationPage, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote %s", filepath.Clean(configurationPage))
		return
	}
	t.Errorf("docs/configuration.md differs from Vars (-page +Vars); run go test ./internal/service -run TestConfigurationReference -update:\n%s", cmp.Diff(strings.Split(page, "\n"), strings.Split(want, "\n")))
}

// TestDocsDefaultsAreTheCode: each default that a variable table of the
// README or of a docs page gives as a value is the one serve -h and
// kafkakit env print, read from the same list. Defaults the tables describe
// in words (empty, (none), <client id>-group) are not compared.
func TestDocsDefaultsAreTheCode(t *testing.T) {
	kafkatest.Parallel(t)
	pages, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	pages = append(pages, "../../README.md")
	defaults := Defaults()
	value := map[string]string{}
	for _, v := range Vars {
		value[v.Name] = v.Value(defaults)
	}
	compared := map[string]int{}
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(b)) {
			cells := strings.Split(line, " | ")
			if !strings.HasPrefix(line, "| `") || len(cells) < 3 {
				continue
			}
			name := strings.Trim(strings.TrimPrefix(cells[0], "| "), "`")
			want, ok := value[name]
			def := strings.Trim(cells[1], "`")
			if !ok || def == "" || strings.ContainsAny(def, "( <") {
				continue
			}
			compared[filepath.Base(page)]++
			if def != want {
				t.Errorf("%s gives %s the default %q; the code's is %q", filepath.Base(page), name, def, want)
			}
		}
	}
	// The README's table of the most used variables, and the reference.
	if compared["README.md"] < 8 || compared["configuration.md"] < 40 {
		t.Errorf("compared %v defaults; are the README's and docs/configuration.md's tables still there?", compared)
	}
}
