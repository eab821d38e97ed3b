package main

import (
	"context"
	"strings"
	"testing"

	"github.com/kafkakit/kafkakit/internal/env"
	"github.com/kafkakit/kafkakit/kafkatest"
)

// TestHelp: every command's -h exits 0 and prints its usage to stdout.
func TestHelp(t *testing.T) {
	kafkatest.Parallel(t)
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"-h"}, []string{"kafkakit serve", "kafkakit env", "dlq replay --topic T [--to T2] [--limit N] [--dry-run] [--group G]"}},
		{[]string{"serve", "-h"}, []string{"Usage: kafkakit serve [--embedded]", "Kafka connection:\n", "  KAFKA_BROKERS=localhost:9092 ",
			"HTTP:\n", "  HTTP_ADDR=:8080 ", "  KAFKA_EMBEDDED_DATA_DIR= ", "LOG_LEVEL=info ", "OTEL_", "-embedded"}},
		{[]string{"serve", "--help"}, []string{"KAFKA_SESSION_TIMEOUT=30000 "}},
		{[]string{"env", "-h"}, []string{"Usage: kafkakit env"}},
		{[]string{"dlq", "replay", "-h"}, []string{"kafkakit dlq replay --topic", "-group string"}},
		{[]string{"dlq", "-h"}, []string{"kafkakit dlq replay --topic"}},
		{[]string{"bench", "-h"}, []string{"Usage: kafkakit bench <workload> [flags]", "-messages int"}},
		{[]string{"bench", "produce", "-h"}, []string{"-messages int"}},
	} {
		var out, errOut strings.Builder
		err := run(context.Background(), tt.args, env.Map(nil), &out, &errOut)
		if err != nil {
			t.Errorf("%v: got %v (exit %d), want exit 0", tt.args, err, exitCode(err))
		}
		for _, w := range tt.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%v: stdout does not contain %q:\n%s", tt.args, w, out.String())
			}
		}
		if errOut.Len() != 0 {
			t.Errorf("%v: stderr %q, want nothing", tt.args, errOut.String())
		}
	}
}

// TestUsageMistakes: a mistake exits 2 and says what is wrong on stderr.
func TestUsageMistakes(t *testing.T) {
	kafkatest.Parallel(t)
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"bench"}, []string{"Usage: kafkakit bench <workload>", "Flags:\n  -acks string"}},
		{[]string{"bench", "nope"}, []string{`kafkakit bench: unknown workload "nope"`, "-messages int"}},
		{[]string{"bench", "produce", "--rounds", "0"}, []string{"--rounds must be positive"}},
		{[]string{"env", "extra"}, []string{`unexpected argument "extra"`}},
		{[]string{"serve", "--nope"}, []string{"kafkakit serve: flag provided but not defined: -nope\nrun `kafkakit serve -h` for help\n"}},
	} {
		var out, errOut strings.Builder
		err := run(context.Background(), tt.args, env.Map(nil), &out, &errOut)
		if exitCode(err) != 2 {
			t.Errorf("%v: got %v (exit %d), want exit 2", tt.args, err, exitCode(err))
		}
		for _, w := range tt.want {
			if !strings.Contains(errOut.String(), w) {
				t.Errorf("%v: stderr does not contain %q:\n%s", tt.args, w, errOut.String())
			}
		}
	}
}

// TestEnvCommand prints the configuration in effect, secrets left out,
// and refuses a bad one as serve does.
func TestEnvCommand(t *testing.T) {
	kafkatest.Parallel(t)
	var out, errOut strings.Builder
	lookup := env.Map(map[string]string{
		"KAFKA_BROKERS": "k1:9092,k2:9092", "KAFKA_SASL_MECHANISM": "plain", "KAFKA_SASL_USERNAME": "alice",
		"KAFKA_SASL_PASSWORD": "hunter2-secret", "HTTP_AUTH_TOKEN": "token-secret", "HTTP_ADDR": "127.0.0.1:9000",
	})
	if err := run(context.Background(), []string{"env"}, lookup, &out, &errOut); err != nil {
		t.Fatalf("env: %v\n%s", err, errOut.String())
	}
	got := out.String()
	for _, w := range []string{"\nKAFKA_BROKERS=k1:9092,k2:9092\n", "\nKAFKA_SASL_USERNAME=alice\n", "\n# KAFKA_SASL_PASSWORD is set: a secret, not shown\n",
		"\n# HTTP_AUTH_TOKEN is set: a secret, not shown\n", "\nHTTP_ADDR=127.0.0.1:9000\n", "\nKAFKA_GROUP_ID=kafkakit-group\n", "\nKAFKA_ACKS=all\n"} {
		if !strings.Contains(got, w) {
			t.Errorf("env output does not contain %q:\n%s", w, got)
		}
	}
	if strings.Contains(got, "hunter2") || strings.Contains(got, "token-secret") {
		t.Errorf("env output shows a secret:\n%s", got)
	}
	out.Reset()
	err := run(context.Background(), []string{"env"}, env.Map(map[string]string{"KAFKA_SESSION_TIMEOUT": "abc"}), &out, &errOut)
	if exitCode(err) != 1 || !strings.Contains(err.Error(), `KAFKA_SESSION_TIMEOUT: "abc"`) {
		t.Errorf("bad configuration: got %v (exit %d)", err, exitCode(err))
	}
}

// TestBenchKeyedProgress: the progress lines of a keyed run's baseline
// count the baseline's messages (they stayed at 0 when the count went to
// another run's counter).
func TestBenchKeyedProgress(t *testing.T) {
	kafkatest.Parallel(t)
	var out, errOut strings.Builder
	args := []string{"bench", "keyed", "--embedded", "--baseline", "--messages", "300", "--concurrency", "20", "--keys", "50", "--handler-wait", "20ms"}
	if err := run(t.Context(), args, env.Map(nil), &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	var lines, zero int
	for line := range strings.Lines(errOut.String()) {
		if strings.HasPrefix(line, "  baseline: ") {
			lines++
			if strings.HasPrefix(line, "  baseline: 0/") {
				zero++
			}
		}
	}
	if lines > 1 && zero == lines {
		t.Errorf("every baseline progress line says 0:\n%s", errOut.String())
	}
}
