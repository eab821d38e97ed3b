package httpapi_test

import (
	"testing"

	"github.com/kafkakit/kafkakit/kafkatest"
	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: every
// goroutine the handler starts is awaited by its Close.
func TestMain(m *testing.M) {
	kafkatest.RaiseParallelism()
	goleak.VerifyTestMain(m)
}
