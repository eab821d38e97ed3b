package kafkatest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Produce writes records synchronously with a raw client, each to the
// partition its Partition field names, failing the test on any error.
func (c *Cluster) Produce(t testing.TB, records ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("kafkatest: produce: %v", err)
	}
}

// ReadAll reads topic from the beginning, without a group, until it has n
// records or timeout passes, and fails the test if fewer arrived. Records
// of one partition come in offset order. A topic that does not exist yet
// is waited for: reading never has the brokers create it, so that a
// test's reader does not make, with the cluster's defaults, a topic that
// the code under test is about to create with its own.
func (c *Cluster) ReadAll(t testing.TB, topic string, n int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	recs, err := c.read(topic, n, timeout)
	if err != nil {
		t.Fatalf("kafkatest: read %q: got %d records, want %d: %v", topic, len(recs), n, err)
	}
	return recs
}

// ReadToEnd reads every record topic holds now: it asks the brokers for
// each partition's end offset, then consumes from the start until every
// partition has reached it. Records of one partition come in offset order.
func (c *Cluster) ReadToEnd(t testing.TB, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(c.Client(t)).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("kafkatest: end offsets of %q: %v", topic, err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	return c.ReadAll(t, topic, int(total), 30*time.Second)
}

// read consumes topic from the start until it has n records or timeout
// passes, with a client that asks for no topic to be created.
func (c *Cluster) read(topic string, n int, timeout time.Duration) ([]*kgo.Record, error) {
	opts, err := c.Config().ReaderOpts()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond),
	)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()

	var recs []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for len(recs) < n {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return recs, ctx.Err()
		}
		for _, fe := range fetches.Errors() {
			// franz-go reports a topic it cannot find yet, and goes on
			// looking for it.
			if fe.Err != context.DeadlineExceeded && !errors.Is(fe.Err, kerr.UnknownTopicOrPartition) {
				return recs, fe.Err
			}
		}
		recs = append(recs, fetches.Records()...)
	}
	return recs, nil
}
