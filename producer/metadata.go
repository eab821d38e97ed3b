package producer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/kafkakit/kafkakit/internal/backoff"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// partitionCacheTTL bounds how stale a cached partition count may be.
// Partition counts only grow, and a count found too small is refreshed at
// once, so staleness only delays noticing that a topic was deleted.
const partitionCacheTTL = 30 * time.Second

// partitionCacheSize bounds how many topics' counts are kept: topic names
// may come from requests, and each distinct one would otherwise stay.
// The least recently used count goes first.
const partitionCacheSize = 1024

// newPartitionCache returns the cache of partition counts by topic.
func newPartitionCache() *lru.Cache[string, cachedCount] {
	c, _ := lru.New[string, cachedCount](partitionCacheSize) // fails only for a size below 1
	return c
}

type cachedCount struct {
	n  int32
	at time.Time
}

// Partitions returns how many partitions topic has. Like a send, it asks
// the cluster to create an unknown topic, which it does if it
// auto-creates topics; otherwise the error wraps
// kerr.UnknownTopicOrPartition. Apache Kafka does not say which of the two
// it does, so an unknown topic is asked about for up to 2s, until the
// producer has seen that the cluster does not create topics; after that
// an unknown topic fails at once. Counts are cached, for a bounded number of
// topics and a short time; ask with the partition you mean to use as
// atLeast and a count too small for it is refreshed first, so a partition
// added a moment ago is found. Failures are not cached.
func (p *Producer) Partitions(ctx context.Context, topic string, atLeast int32) (int32, error) {
	if c, ok := p.parts.Get(topic); ok && c.n > atLeast && time.Since(c.at) < partitionCacheTTL {
		return c.n, nil
	}
	n, err := p.fetchPartitions(ctx, topic)
	if err != nil {
		if isMissingTopic(err) && p.forgetter != nil {
			p.forgetter.forget(topic)
		}
		return 0, err
	}
	p.parts.Add(topic, cachedCount{n, time.Now()})
	return n, nil
}

func (p *Producer) fetchPartitions(ctx context.Context, topic string) (int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = true
	var unknownSince time.Time
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
			if unknownSince != (time.Time{}) {
				p.autoCreate.learn(true)
			}
			return int32(len(t.Partitions)), nil
		}
		if err == kerr.UnknownTopicOrPartition {
			// Apache Kafka answers UNKNOWN_TOPIC_OR_PARTITION while it
			// creates a topic on first use, as it does for a topic it
			// will not create: ask again, for a while, unless this
			// cluster is known not to create topics.
			if unknownSince == (time.Time{}) {
				unknownSince = time.Now()
			}
			if p.autoCreate.known(false) || time.Since(unknownSince) > topicCreationWait {
				p.autoCreate.learn(false)
				return 0, fmt.Errorf("producer: metadata of %q: %w", topic, err)
			}
		}
		// A topic being created answers LEADER_NOT_AVAILABLE, or no
		// partitions yet, for a moment.
		if err != nil && !kerr.IsRetriable(err) {
			return 0, fmt.Errorf("producer: metadata of %q: %w", topic, err)
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("producer: metadata of %q: %w", topic, context.Cause(ctx))
		case <-time.After(backoff.Exponential(50*time.Millisecond, time.Second, try)):
		}
	}
}

// topicCreationWait is how long a topic that the cluster does not know is
// asked about again, in case the cluster is creating it.
const topicCreationWait = 2 * time.Second

// autoCreate is what a producer learnt of whether the cluster creates
// topics on first use. Apache Kafka answers a metadata request for an
// unknown topic with UNKNOWN_TOPIC_OR_PARTITION whether it starts creating
// the topic or not, so the answer alone does not tell a topic being
// created from one that never will be. A topic that appears after such an
// answer shows that the cluster creates topics; one that has not appeared
// after topicCreationWait shows, at first, that it does not, and later
// unknown topics then fail at once instead of costing each the wait.
type autoCreate struct{ v atomic.Int32 } // 0 not yet known, 1 creates, -1 does not

func (a *autoCreate) learn(creates bool) {
	if creates {
		a.v.Store(1)
		return
	}
	a.v.CompareAndSwap(0, -1)
}

func (a *autoCreate) known(creates bool) bool {
	if creates {
		return a.v.Load() == 1
	}
	return a.v.Load() == -1
}

// forgetter drops franz-go's producing state of topics that turned out not
// to exist: the client keeps state, and asks for metadata, for every topic
// it was ever asked to produce to, so a stream of distinct unknown names
// would otherwise grow it without end. Purging runs on its own goroutine,
// a batch of names at a time, since it waits on the client's metadata
// loop.
type forgetter struct {
	mu      sync.Mutex
	pending map[string]struct{}
	wake    chan struct{}
	done    chan struct{}
}

func newForgetter() *forgetter {
	return &forgetter{pending: make(map[string]struct{}), wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// forget marks topic for purging.
func (f *forgetter) forget(topic string) {
	f.mu.Lock()
	f.pending[topic] = struct{}{}
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// run purges marked topics from cl until ctx ends.
func (f *forgetter) run(ctx context.Context, cl *kgo.Client) {
	defer close(f.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		}
		f.mu.Lock()
		topics := make([]string, 0, len(f.pending))
		for t := range f.pending {
			topics = append(topics, t)
		}
		clear(f.pending)
		f.mu.Unlock()
		// The client's metadata cache keeps the names too: purge both.
		cl.PurgeTopicsFromClient(topics...)
	}
}

// isMissingTopic reports whether err says the topic does not exist or
// cannot.
func isMissingTopic(err error) bool {
	return errors.Is(err, kerr.UnknownTopicOrPartition) || errors.Is(err, kerr.UnknownTopicID) ||
		errors.Is(err, kerr.InvalidTopicException)
}
