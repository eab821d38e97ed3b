package kafkatest

import "testing"

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
