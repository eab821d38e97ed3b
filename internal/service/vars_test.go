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
