package httpapi_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: every
// goroutine the handler starts is awaited by its Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
