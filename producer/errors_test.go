package producer_test

import (
	"errors"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
)

func TestInvalidPartitionIsTypedAndSaysSoOnce(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("user-events", 3))
	p := newProducer(t, c)
	_, err := p.Send(t.Context(), producer.Message{Topic: "user-events", Value: []byte("v"), Partition: new(int32(7))})
	var ip *producer.InvalidPartitionError
	if !errors.As(err, &ip) || ip.Partition != 7 || ip.Partitions != 3 {
		t.Fatalf("got %v, want an *InvalidPartitionError for partition 7 of 3", err)
	}
	if n := strings.Count(err.Error(), "producer:"); n != 1 {
		t.Errorf("got %q, want the package prefix once", err)
	}
}

func TestRecordOverBatchLimitNamesIt(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("big", 1))
	p := newProducer(t, c)
	_, err := p.Send(t.Context(), producer.Message{Topic: "big", Value: make([]byte, 999_950)})
	var tl *producer.RecordTooLargeError
	if !errors.As(err, &tl) || tl.Limit != 1_000_012 || tl.Size <= tl.Limit {
		t.Fatalf("got %v, want a *RecordTooLargeError over 1,000,012", err)
	}
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Errorf("got %v, want it to wrap kerr.MessageTooLarge", err)
	}
	if want := "over the producer's batch limit of 1,000,012 bytes (KAFKA_BATCH_SIZE)"; !strings.Contains(err.Error(), want) {
		t.Errorf("got %q, want it to contain %q", err, want)
	}
	// Just under the limit is delivered.
	if _, err := p.Send(t.Context(), producer.Message{Topic: "big", Value: make([]byte, 999_900)}); err != nil {
		t.Errorf("999,900 bytes: %v", err)
	}
}

// closedPort returns a local address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestSendFailsFastWithoutBrokersAndRecovers(t *testing.T) {
	addr := closedPort(t)
	cfg := config.Default()
	cfg.Brokers = []string{addr}
	cfg.ShutdownTimeout = 100 * time.Millisecond
	p, err := producer.New(cfg, producer.UnavailableAfter(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })

	// The first send waits for the verdict; later ones are refused at once.
	for i := range 2 {
		_, err := p.Send(t.Context(), producer.Message{Topic: "t", Value: []byte("v")})
		var ue *producer.UnavailableError
		var ce *config.ConnectionError
		if !errors.As(err, &ue) || !errors.As(err, &ce) || !strings.Contains(err.Error(), "KAFKA_BROKERS") {
			t.Fatalf("send %d: got %v, want an *UnavailableError with a hint", i, err)
		}
	}

	_, port, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(port)
	kafkatest.NewCluster(t, kafkatest.KfakeOpts(kfake.Ports(n)))
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := p.Send(t.Context(), producer.Message{Topic: "t", Value: []byte("v")})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("brokers back, sends still fail: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // a retry loop's pause, not synchronisation
	}
}

func TestPingSaysWhy(t *testing.T) {
	cfg := config.Default()
	cfg.Brokers = []string{closedPort(t)}
	p, err := producer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	err = p.Ping(t.Context())
	var ce *config.ConnectionError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "KAFKA_BROKERS") {
		t.Fatalf("got %v, want a *config.ConnectionError naming KAFKA_BROKERS", err)
	}
	c := kafkatest.NewCluster(t)
	if err := newProducer(t, c).Ping(t.Context()); err != nil {
		t.Errorf("ping a running cluster: %v", err)
	}
}

func TestPartitionCacheStaysBounded(t *testing.T) {
	// Each of its topics is made on first use, as the look-up asks.
	c := kafkatest.NewCluster(t, kafkatest.Partitions(1), kafkatest.AutoCreate())
	p := newProducer(t, c)
	for i := range producer.PartitionCacheSize + 100 {
		if _, err := p.Partitions(t.Context(), "t"+strconv.Itoa(i), 0); err != nil {
			t.Fatal(err)
		}
	}
	if n := producer.CachedPartitionCounts(p); n > producer.PartitionCacheSize {
		t.Errorf("got %d cached counts, want at most %d", n, producer.PartitionCacheSize)
	}
}

// TestDistinctBadTopicNamesMemory asks for many distinct topic names the
// cluster does not have and checks the heap does not keep them. Set
// KAFKAKIT_BAD_TOPICS to the number of names (the README's figure is for
// 100000); by default a quick run.
func TestDistinctBadTopicNamesMemory(t *testing.T) {
	n := 5000
	if s := os.Getenv("KAFKAKIT_BAD_TOPICS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	// A cluster that does not create topics on first use.
	fake, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	cfg := config.Default()
	cfg.Brokers = fake.ListenAddrs()
	p, err := producer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	ask := func(from, to int) {
		for i := from; i < to; i++ {
			if _, err := p.Partitions(t.Context(), "missing-"+strconv.Itoa(i), 0); !errors.Is(err, kerr.UnknownTopicOrPartition) {
				t.Fatalf("topic missing-%d: got %v, want UnknownTopicOrPartition", i, err)
			}
		}
	}
	ask(0, 500) // warm up
	before := heap()
	start := time.Now()
	ask(500, n)
	after := heap()
	t.Logf("%d distinct bad topic names in %v: heap %d KB before, %d KB after", n, time.Since(start).Round(time.Millisecond), before>>10, after>>10)
	if grown := int64(after) - int64(before); grown > 8<<20 {
		t.Errorf("heap grew by %d KB over %d names", grown>>10, n)
	}
}
