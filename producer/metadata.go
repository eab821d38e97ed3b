package producer

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/kafkakit/kafkakit/internal/backoff"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// partitionCacheTTL bounds how stale a cached partition count may be.
// Partition counts only grow, and a count found too small is refreshed at
// once, so staleness only delays noticing that a topic was deleted.
const partitionCacheTTL = 30 * time.Second

type partitionCache struct {
	mu     sync.Mutex
	counts map[string]cachedCount
}

type cachedCount struct {
	n  int32
	at time.Time
}

// Partitions returns how many partitions topic has. Like a send, it asks
// the cluster to create an unknown topic, which it does if it
// auto-creates topics; otherwise the error wraps
// kerr.UnknownTopicOrPartition. Counts are cached; ask with the partition
// you mean to use as atLeast and a count too small for it is refreshed
// first, so a partition added a moment ago is found.
func (p *Producer) Partitions(ctx context.Context, topic string, atLeast int32) (int32, error) {
	p.parts.mu.Lock()
	c, ok := p.parts.counts[topic]
	p.parts.mu.Unlock()
	if ok && c.n > atLeast && time.Since(c.at) < partitionCacheTTL {
		return c.n, nil
	}
	n, err := p.fetchPartitions(ctx, topic)
	if err != nil {
		return 0, err
	}
	p.parts.mu.Lock()
	if p.parts.counts == nil {
		p.parts.counts = make(map[string]cachedCount)
	}
	p.parts.counts[topic] = cachedCount{n, time.Now()}
	p.parts.mu.Unlock()
	return n, nil
}

func (p *Producer) fetchPartitions(ctx context.Context, topic string) (int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = true
	for try := 1; ; try++ {
		resp, err := req.RequestWith(ctx, p.client)
		if err != nil {
			return 0, fmt.Errorf("producer: metadata of %q: %w", topic, err)
		}
		if len(resp.Topics) != 1 {
			return 0, fmt.Errorf("producer: metadata of %q: broker answered for %d topics", topic, len(resp.Topics))
		}
		t := resp.Topics[0]
		err = kerr.ErrorForCode(t.ErrorCode)
		if err == nil && len(t.Partitions) > 0 {
			return int32(len(t.Partitions)), nil
		}
		// A topic being created answers LEADER_NOT_AVAILABLE, or no
		// partitions yet, for a moment.
		if err != nil && !kerr.IsRetriable(err) || err == kerr.UnknownTopicOrPartition {
			return 0, fmt.Errorf("producer: metadata of %q: %w", topic, err)
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("producer: metadata of %q: %w", topic, context.Cause(ctx))
		case <-time.After(backoff.Exponential(50*time.Millisecond, time.Second, try)):
		}
	}
}
