package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
)

// webhookServeEnv is the environment of a `serve` process that consumes
// topic into the webhook at url and logs warnings only, followed by
// settings. The SIGKILL tests differ only in their settings; a variable
// given twice takes its last value.
func webhookServeEnv(c *kafkatest.Cluster, topic, url string, settings ...string) []string {
	return append([]string{
		"KAFKA_BROKERS=" + strings.Join(c.Addrs(), ","),
		"KAFKA_CONSUMER_TOPICS=" + topic,
		"KAFKA_HANDLER=webhook",
		"KAFKA_WEBHOOK_URL=" + url,
		"HTTP_ADDR=127.0.0.1:0",
		"LOG_LEVEL=warn",
	}, settings...)
}

// quickTakeover makes a killed member noticed quickly, so the next one
// need not wait long for its partitions.
var quickTakeover = []string{
	"KAFKA_SESSION_TIMEOUT=1000",
	"KAFKA_HEARTBEAT_INTERVAL=100",
	"KAFKA_MAX_WAIT_TIME=200",
}

// waitDistinct waits until distinct() reaches n, the number of different
// records the webhook must have seen. While it has not, the error is
// format with the count so far and n.
func waitDistinct(t testing.TB, timeout time.Duration, n int, distinct func() int, format string) {
	t.Helper()
	kafkatest.WaitFor(t, timeout, func() error {
		if d := distinct(); d < n {
			return fmt.Errorf(format, d, n)
		}
		return nil
	})
}
