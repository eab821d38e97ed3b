package consumer_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// worker, refresher and client a Consumer starts must end by Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
