package service

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestVarsNameEveryVariable: the list serve -h and env print has every
// variable FromEnv reads, and no other; the README's table has them all.
func TestVarsNameEveryVariable(t *testing.T) {
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
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range listed {
		if !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("README does not document %s", name)
		}
	}
}

func TestPrintVars(t *testing.T) {
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

// TestReadmeDefaultsAreTheCode: each default the README's variable table
// gives as a value is the one serve -h and kafkakit env print, read from
// the same list. Defaults the table describes in words (empty, (none),
// <client id>-group) are not compared.
func TestReadmeDefaultsAreTheCode(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defaults := Defaults()
	value := map[string]string{}
	for _, v := range Vars {
		value[v.Name] = v.Value(defaults)
	}
	compared := 0
	for line := range strings.Lines(string(readme)) {
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
		compared++
		if def != want {
			t.Errorf("README gives %s the default %q; the code's is %q", name, def, want)
		}
	}
	if compared < 40 {
		t.Errorf("compared %d defaults; is the README's table still there?", compared)
	}
}
