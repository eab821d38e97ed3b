package queue_test

import (
	"testing"

	"github.com/kafkakit/kafkakit/kafkatest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	kafkatest.RaiseParallelism()
	goleak.VerifyTestMain(m)
}
