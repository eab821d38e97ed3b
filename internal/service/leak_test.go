package service

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/internal/env"
	"github.com/kafkakit/kafkakit/kafkatest"
	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: the
// service must end everything it starts before Run returns. The tests'
// own HTTP clients keep idle connections, which are closed first.
func TestMain(m *testing.M) {
	kafkatest.RaiseParallelism()
	code := m.Run()
	http.DefaultClient.CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: goroutines left after the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// silentBroker accepts connections and never answers, so that a client's
// requests to it wait for their timeouts.
func silentBroker(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestRunEndsTheBrokerCheck: when Run returns on its own (here because the
// consumer cannot start), the start-up broker check has ended with it, so
// it neither outlives Run nor pings the closed producer and logs a false
// "cannot use the brokers".
func TestRunEndsTheBrokerCheck(t *testing.T) {
	broker := silentBroker(t)
	cfg, err := FromEnv(env.Map(map[string]string{
		"KAFKA_BROKERS":            broker,
		"HTTP_ADDR":                "127.0.0.1:0",
		"KAFKA_CONSUMER_TOPICS":    "t",
		"KAFKA_CONNECTION_TIMEOUT": "20000",
		"KAFKA_REQUEST_TIMEOUT":    "20000",
		"KAFKA_SHUTDOWN_TIMEOUT":   "1000",
		// No topics to check at start, which would wait for the silent
		// broker first.
		"KAFKA_DLQ_SUFFIX":     "",
		"HTTP_IDEMPOTENCY_TTL": "0",
		// Below franz-go's 100ms minimum: the consumer's client cannot be
		// built, so Run returns at once.
		"KAFKA_SESSION_TIMEOUT":    "50",
		"KAFKA_HEARTBEAT_INTERVAL": "10",
	}))
	if err != nil {
		t.Fatal(err)
	}
	before := goleak.IgnoreCurrent()
	sink := &logSink{}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := Run(ctx, cfg, sink.logger()); err == nil {
		t.Fatal("Run returned nil, want the consumer's error")
	}
	goleak.VerifyNone(t, before)
	if line := sink.find("cannot use the brokers; /readyz answers 503 until they answer"); line != nil {
		t.Errorf("logged after Run returned: %v", line)
	}
}
