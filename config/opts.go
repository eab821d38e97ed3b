package config

import (
	"errors"
	"time"

	"github.com/kafkakit/kafkakit/internal/backoff"
	"github.com/kafkakit/kafkakit/internal/balancer"
	"github.com/twmb/franz-go/pkg/kgo"
)

// maxRetryBackoff caps the pause between client request retries, like
// kafkajs's maxRetryTime.
const maxRetryBackoff = 30 * time.Second

// ErrEmbeddedBrokers is returned by [Kafka.Opts] when Brokers still says
// "embedded": the embedded broker must be started, and Brokers pointed at
// it, before a client can be built.
var ErrEmbeddedBrokers = errors.New(`config: KAFKA_BROKERS is "embedded" but no embedded broker was started`)

// Opts turns the configuration into franz-go client options: the client's,
// the producer's and the fetch settings. Consumer group options are
// separate, see [Kafka.GroupOpts], since a producer joins no group. Opts
// validates the configuration first.
func (k Kafka) Opts() ([]kgo.Opt, error) {
	if k.Embedded() {
		return nil, ErrEmbeddedBrokers
	}
	if err := k.Validate(); err != nil {
		return nil, err
	}
	opts, err := k.Client.Opts()
	if err != nil {
		return nil, err
	}
	opts = append(opts, k.Producer.Opts()...)
	return append(opts, k.Group.FetchOpts()...), nil
}

// ReaderOpts turns the configuration into the options of a client that
// only reads records and looks topics up: the client's and the fetch
// settings, without the producer's. Such a client never asks the brokers
// to create a topic on first use, so that reading a topic before it
// exists (a dead-letter topic, say) does not have an auto-creating
// cluster make it with its defaults before kafkakit creates it with the
// partitions it needs. ReaderOpts validates the configuration first.
func (k Kafka) ReaderOpts() ([]kgo.Opt, error) {
	if k.Embedded() {
		return nil, ErrEmbeddedBrokers
	}
	if err := k.Validate(); err != nil {
		return nil, err
	}
	opts, err := k.Client.Opts()
	if err != nil {
		return nil, err
	}
	return append(opts, k.Group.FetchOpts()...), nil
}

// GroupOpts returns the consumer group options; see [Group.Opts].
func (k Kafka) GroupOpts() []kgo.Opt { return k.Group.Opts() }

// Opts returns the options every client needs: brokers, timeouts, retries,
// TLS and SASL. They do not ask the brokers to create topics on first use;
// [Producer.Opts] does. It loads the TLS files; it does not validate the rest.
func (c Client) Opts() ([]kgo.Opt, error) {
	if c.Embedded() {
		return nil, ErrEmbeddedBrokers
	}
	tlsCfg, err := c.TLS.Config()
	if err != nil {
		return nil, err
	}
	retryBackoff := c.RetryBackoff
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(c.ClientID),
		kgo.DialTimeout(c.ConnectionTimeout),
		kgo.RequestRetries(c.Retries),
		kgo.RetryTimeout(c.RequestTimeout),
		kgo.RetryBackoffFn(func(tries int) time.Duration {
			return backoff.Exponential(retryBackoff, maxRetryBackoff, tries)
		}),
		// Produce requests share the client's timeout and retry count.
		kgo.ProduceRequestTimeout(c.RequestTimeout),
		kgo.RecordRetries(c.Retries),
	}
	if c.MetadataMinAge > 0 {
		opts = append(opts, kgo.MetadataMinAge(c.MetadataMinAge))
	}
	if tlsCfg != nil {
		opts = append(opts, kgo.DialTLSConfig(tlsCfg))
	}
	if m := c.SASL.mechanism(); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// Opts returns the producer options: topic creation on first use, acks
// and idempotence, batching, compression and buffering. DeliveryTimeout is enforced by the producer
// package: franz-go would count it from the record's timestamp, failing at
// once any message sent with an old one.
func (p Producer) Opts() []kgo.Opt {
	opts := []kgo.Opt{
		// Ask the brokers to create a topic sent to that does not exist,
		// as the Java producer does; whether they do is the cluster's
		// choice (auto.create.topics.enable). Only a client that writes
		// asks: see [Kafka.ReaderOpts].
		kgo.AllowAutoTopicCreation(),
		kgo.ProducerBatchCompression(codec(p.Compression)),
		kgo.MaxBufferedRecords(p.MaxBufferedRecords),
		kgo.MaxBufferedBytes(int(p.MaxBufferedBytes)),
		kgo.ProducerLinger(p.Linger),
	}
	if p.BatchSize > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(p.BatchSize))
	}
	switch p.Acks {
	case AcksLeader:
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
	case AcksNone:
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
	default:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	if !p.Idempotent() {
		// Idempotent production keeps up to 5 requests in flight per
		// broker without reordering or duplicates, and franz-go manages
		// that limit itself; without it, the limit is ours to set.
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(p.MaxInFlightRequests))
	}
	return opts
}

// FetchOpts returns the fetch sizing options and the isolation level.
func (g Group) FetchOpts() []kgo.Opt {
	isolation := kgo.ReadCommitted()
	if g.IsolationLevel == ReadUncommitted {
		isolation = kgo.ReadUncommitted()
	}
	return []kgo.Opt{
		kgo.FetchMaxPartitionBytes(g.MaxBytesPerPartition),
		kgo.FetchMinBytes(g.MinBytes),
		kgo.FetchMaxWait(g.MaxWaitTime),
		kgo.FetchIsolationLevel(isolation),
	}
}

// Opts returns the consumer group options: group, session, heartbeat and
// protocol. Offsets are committed by the consumer, never automatically on
// poll.
func (g Group) Opts() []kgo.Opt {
	opts := []kgo.Opt{
		kgo.ConsumerGroup(g.GroupID),
		kgo.SessionTimeout(g.SessionTimeout),
		kgo.HeartbeatInterval(g.HeartbeatInterval),
		kgo.Balancers(g.balancers()...),
	}
	if g.GroupProtocol == GroupProtocolConsumer {
		opts = append(opts, kgo.ServerSideBalancer())
	}
	return opts
}

// balancers maps Assigners to franz-go's balancers, in the same order.
// Validate has checked the names; an unknown one is skipped, and none at all
// falls back to the default, cooperative-sticky: cooperative rebalancing
// moves only the partitions that must move, so a member joining or leaving
// does not stop the whole group.
func (g Group) balancers() []kgo.GroupBalancer {
	var out []kgo.GroupBalancer
	for _, a := range g.Assigners {
		switch a {
		case AssignerCooperativeSticky:
			out = append(out, kgo.CooperativeStickyBalancer())
		case AssignerSticky:
			out = append(out, kgo.StickyBalancer())
		case AssignerRange:
			out = append(out, kgo.RangeBalancer())
		case AssignerRoundRobin:
			out = append(out, kgo.RoundRobinBalancer())
		case AssignerKafkajsRoundRobin:
			out = append(out, balancer.KafkajsRoundRobin())
		}
	}
	if len(out) == 0 {
		out = append(out, kgo.CooperativeStickyBalancer())
	}
	return out
}

func codec(name string) kgo.CompressionCodec {
	switch name {
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	return kgo.NoCompression()
}
