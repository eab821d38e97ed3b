// Package embedded runs kfake, franz-go's in-process Kafka, as a one-broker
// development cluster for `kafkakit serve --embedded`.
//
// It speaks the Kafka protocol, so any client (kcat, kafkajs, franz-go, the
// Java client) can connect to it, and it creates topics on first use. It is
// not a production broker: no replication, and data lives in memory unless
// a data directory is given.
//
// With a data directory, an acknowledged record survives the process being
// killed (SIGKILL) and the machine losing power: each produced batch is
// fsynced before it is acknowledged, and a topic's existence is written
// (and fsynced) when it is created, however it is created. kfake on its own
// creates topics on first use in memory only and writes the topic list at
// a clean shutdown, so a crash would leave their records on disk but
// unreachable.
package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/kafkakit/kafkakit/internal/logattr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Broker is a running embedded broker.
type Broker struct {
	cluster *kfake.Cluster
	addr    string
}

// Options configures Start.
type Options struct {
	// Addr is the host:port to listen on; port 0 picks a free one.
	Addr string
	// DataDir, when set, keeps topics, offsets and groups there across
	// restarts.
	DataDir string
	// Partitions is how many partitions a topic gets when created on
	// first use; 0 means 1.
	Partitions int
	// Logger receives the broker's warnings and errors, and its
	// informational lines at debug level.
	Logger *slog.Logger
	// Discard acknowledges produced records without keeping them, so that
	// a benchmark measures the clients, not the broker's memory.
	Discard bool
}

// Start starts the broker.
func Start(o Options) (*Broker, error) {
	host, portStr, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("embedded broker: address %q: %w", o.Addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("embedded broker: address %q: bad port", o.Addr)
	}
	partitions := o.Partitions
	if partitions <= 0 {
		partitions = 1
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		// kfake listens on 127.0.0.1; honour the configured host.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
		}),
		// No kfake.AllowAutoTopicCreation: createOnFirstUse does it in a
		// way that is saved at once.
		kfake.DefaultNumPartitions(partitions),
		kfake.ClusterID("kafkakit-embedded"),
		kfake.WithLogger(kfakeLogger{logger.With(logattr.Component("embedded-broker"))}),
	}
	if o.DataDir != "" {
		// Acknowledged means on disk: a batch is fsynced before its
		// produce is answered, at some cost in throughput.
		opts = append(opts, kfake.DataDir(o.DataDir), kfake.SyncWrites())
	}
	if o.Discard {
		opts = append(opts, kfake.BlackholeProduce())
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	createOnFirstUse(c)
	return &Broker{cluster: c, addr: c.ListenAddrs()[0]}, nil
}

// createOnFirstUse creates the topics a metadata request names, when the
// client allows auto-creation (as the Java client and franz-go do), before
// kfake answers it. Cluster.CreateTopic saves the topic list to the data
// directory at once, which kfake's own auto-creation does only at a clean
// shutdown. A control function runs while kfake's loop keeps serving its
// admin calls, so calling CreateTopic from it does not deadlock. Metadata
// requests are few (a client's first use of a topic, then every few
// minutes), so one admin call per named topic costs nothing measurable.
func createOnFirstUse(c *kfake.Cluster) {
	c.ControlKey(int16(kmsg.Metadata), func(req kmsg.Request) (kmsg.Response, error, bool) {
		r, ok := req.(*kmsg.MetadataRequest)
		if !ok || !r.AllowAutoTopicCreation {
			return nil, nil, false
		}
		for _, t := range r.Topics {
			if t.Topic == nil || t.TopicID != [16]byte{} {
				continue // by ID: an existing topic, or none to create
			}
			// An existing topic answers TopicAlreadyExists; a bad name
			// is answered by the metadata request itself as unknown.
			_ = c.CreateTopic(*t.Topic, 0, nil)
		}
		return nil, nil, false // kfake answers the request as usual
	})
}

// Addr is the address clients connect to.
func (b *Broker) Addr() string { return b.addr }

// Close stops the broker, writing its data to the data directory if one
// was given.
func (b *Broker) Close() { b.cluster.Close() }

type kfakeLogger struct{ l *slog.Logger }

func (k kfakeLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	sl := slog.LevelDebug
	switch level {
	case kfake.LogLevelError:
		sl = slog.LevelError
	case kfake.LogLevelWarn:
		sl = slog.LevelWarn
	}
	if !k.l.Enabled(context.Background(), sl) {
		return
	}
	k.l.Log(context.Background(), sl, fmt.Sprintf(format, args...))
}
