package kafkatest

import (
	"testing"
	"time"
)

// WaitFor calls try until it returns nil or maxWait passes, and then fails
// the test with try's last error. It polls quickly at first and backs off
// to 50ms, so that conditions are noticed as soon as they hold without
// sleeping a fixed time.
func WaitFor(t testing.TB, maxWait time.Duration, try func() error) {
	t.Helper()
	deadline := time.Now().Add(maxWait)
	pause := time.Millisecond
	for {
		err := try()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("kafkatest: condition not met after %v: %v", maxWait, err)
		}
		time.Sleep(pause)
		if pause < 50*time.Millisecond {
			pause *= 2
		}
	}
}
