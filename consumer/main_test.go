package consumer_test

import (
	"testing"

	"github.com/kafkakit/kafkakit/kafkatest"
	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// worker, refresher and client a Consumer starts must end by Close.
func TestMain(m *testing.M) {
	kafkatest.RaiseParallelism()
	goleak.VerifyTestMain(m)
}
