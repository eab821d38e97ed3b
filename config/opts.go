package config

import (
	"errors"
	"time"

	"github.com/kafkakit/kafkakit/internal/backoff"
	"github.com/twmb/franz-go/pkg/kgo"
)

// maxRetryBackoff caps the pause between client request retries, like
// kafkajs's maxRetryTime.
const maxRetryBackoff = 30 * time.Second

// ErrEmbeddedBrokers is returned by [Kafka.Opts] when Brokers still says
// "embedded": the embedded broker must be started, and Brokers pointed at
// it, before a client can be built.
var ErrEmbeddedBrokers = errors.New(`config: KAFKA_BROKERS is "embedded" but no embedded broker was started`)

// Opts turns the configuration into franz-go client options: brokers,
// timeouts, retries, TLS, SASL, producer and fetch settings. Consumer group
// options are separate, see [Kafka.GroupOpts], since a producer joins no
// group. Opts validates the configuration first.
func (k Kafka) Opts() ([]kgo.Opt, error) {
	if k.Embedded() {
		return nil, ErrEmbeddedBrokers
	}
	if err := k.Validate(); err != nil {
		return nil, err
	}
	tlsCfg, err := k.TLS.Config()
	if err != nil {
		return nil, err
	}
	retryBackoff := k.RetryBackoff
	opts := []kgo.Opt{
		kgo.SeedBrokers(k.Brokers...),
		kgo.ClientID(k.ClientID),
		kgo.DialTimeout(k.ConnectionTimeout),
		kgo.RequestRetries(k.Retries),
		kgo.RetryTimeout(k.RequestTimeout),
		kgo.RetryBackoffFn(func(tries int) time.Duration {
			return backoff.Exponential(retryBackoff, maxRetryBackoff, tries)
		}),

		// Ask the brokers to create unknown topics, as the Java client
		// does; whether they do is the cluster's choice
		// (auto.create.topics.enable).
		kgo.AllowAutoTopicCreation(),

		// DeliveryTimeout is enforced by the producer package: franz-go
		// would count it from the record's timestamp, failing at once any
		// message sent with an old one.
		kgo.ProduceRequestTimeout(k.RequestTimeout),
		kgo.RecordRetries(k.Retries),
		kgo.ProducerBatchCompression(codec(k.Compression)),
		kgo.MaxBufferedRecords(k.MaxBufferedRecords),
		kgo.MaxBufferedBytes(int(k.MaxBufferedBytes)),
		kgo.ProducerLinger(k.Linger),

		kgo.FetchMaxPartitionBytes(k.MaxBytesPerPartition),
		kgo.FetchMinBytes(k.MinBytes),
		kgo.FetchMaxWait(k.MaxWaitTime),
	}
	if k.MetadataMinAge > 0 {
		opts = append(opts, kgo.MetadataMinAge(k.MetadataMinAge))
	}
	if k.BatchSize > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(k.BatchSize))
	}
	switch k.Acks {
	case AcksLeader:
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(),
			kgo.MaxProduceRequestsInflightPerBroker(k.MaxInFlightRequests))
	case AcksNone:
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite(),
			kgo.MaxProduceRequestsInflightPerBroker(k.MaxInFlightRequests))
	default:
		// Idempotent production keeps up to 5 requests in flight per
		// broker without reordering or duplicates; franz-go manages that
		// limit itself.
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	if tlsCfg != nil {
		opts = append(opts, kgo.DialTLSConfig(tlsCfg))
	}
	if m := k.SASL.mechanism(); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// GroupOpts returns the consumer group options: group, session, heartbeat
// and protocol. Offsets are committed by the consumer, never automatically
// on poll.
func (k Kafka) GroupOpts() []kgo.Opt {
	opts := []kgo.Opt{
		kgo.ConsumerGroup(k.GroupID),
		kgo.SessionTimeout(k.SessionTimeout),
		kgo.HeartbeatInterval(k.HeartbeatInterval),
		// Cooperative rebalancing moves only the partitions that must move,
		// so a member joining or leaving does not stop the whole group.
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
	}
	if k.GroupProtocol == GroupProtocolConsumer {
		opts = append(opts, kgo.ServerSideBalancer())
	}
	return opts
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
