package main

import (
	"os"
	"strings"
	"testing"

	"github.com/kafkakit/kafkakit/kafkatest"
)

// bench http --atomic compares atomic batches with plain ones of the same
// size, in this process and against a `serve` child, whose topic --verify
// reads to its end, a transaction's commit marker; it needs --batch.
func TestBenchAtomic(t *testing.T) {
	kafkatest.Parallel(t)
	for _, args := range [][]string{
		{"bench", "http", "--embedded", "--baseline", "--atomic", "--batch", "100", "--messages", "2000", "--concurrency", "4", "--rounds", "2"},
		{"bench", "http", "--embedded", "--spawn", "--serve-binary", binary, "--atomic", "--batch", "100", "--messages", "2000", "--concurrency", "4", "--verify"},
	} {
		var out, errOut strings.Builder
		if err := run(t.Context(), args, os.LookupEnv, &out, &errOut); err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, out.String(), errOut.String())
		}
		if !strings.Contains(out.String(), "HTTP /kafka/send-batch x100 atomic ") {
			t.Errorf("%v printed no atomic run:\n%s", args, out.String())
		}
		if strings.Contains(strings.Join(args, " "), "--baseline") &&
			!strings.Contains(out.String(), "HTTP /kafka/send-batch x100 atomic 2000 msgs/s") &&
			!strings.Contains(out.String(), ", HTTP /kafka/send-batch x100 atomic ") {
			t.Errorf("%v printed no ratio of atomic to plain batches:\n%s", args, out.String())
		}
	}
	for _, args := range [][]string{
		{"bench", "http", "--embedded", "--atomic"},
		{"bench", "produce", "--embedded", "--atomic", "--batch", "100"},
	} {
		var out, errOut strings.Builder
		if err := run(t.Context(), args, os.LookupEnv, &out, &errOut); exitCode(err) != 2 {
			t.Errorf("%v: got %v, want a usage error", args, err)
		}
	}
}
