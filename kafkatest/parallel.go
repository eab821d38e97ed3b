package kafkatest

import (
	"flag"
	"strconv"
	"testing"
)

// Parallel marks t as able to run in parallel with the other parallel
// tests of its package, when clusters are kfake: each test then has its
// own in-process cluster, so tests that share nothing else (a port, the
// process's environment, a global) are independent, and most of their
// time is spent waiting on the network and timers. On the external
// cluster (KAFKAKIT_TEST_BROKERS) the tests of a binary share one
// cluster, its topics and its groups, so Parallel leaves them to run one
// at a time, each on the cluster as the previous one left it.
func Parallel(t *testing.T) {
	t.Helper()
	if !External() {
		t.Parallel()
	}
}

// waitingParallelism is how many parallel tests run at once by default.
// Tests on kfake spend most of their time waiting on the network and on
// timers, so running only GOMAXPROCS of them at once, go test's default,
// leaves the cores idle: with 8 on a 2-core machine, internal/service's
// tests take 15 s instead of 34 s.
const waitingParallelism = 8

// RaiseParallelism is for a package's TestMain, before m.Run: unless
// -test.parallel is given, it lets waitingParallelism tests marked
// Parallel run at once, or GOMAXPROCS if that is more. It parses the
// command line's flags, which m.Run then does not parse again.
func RaiseParallelism() {
	if !flag.Parsed() {
		flag.Parse()
	}
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	f := flag.Lookup("test.parallel")
	if given || f == nil {
		return
	}
	if n, err := strconv.Atoi(f.Value.String()); err == nil && n < waitingParallelism {
		_ = f.Value.Set(strconv.Itoa(waitingParallelism))
	}
}
