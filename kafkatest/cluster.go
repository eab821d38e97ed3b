package kafkatest

import (
	"context"
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Cluster is a running in-process Kafka cluster.
type Cluster struct {
	fake *kfake.Cluster
	cfg  config.Kafka
}

// Option configures a Cluster.
type Option interface{ apply(*options) }

type options struct {
	brokers    int
	partitions int
	topics     []topic
	tls        *tls.Config
	clientTLS  config.TLS
	sasl       *sasl
	kfake      []kfake.Opt
	// noAutoCreate: the brokers create no topic on first use.
	noAutoCreate bool
}

type topic struct {
	name       string
	partitions int32
}

type sasl struct{ mechanism, user, pass string }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// Brokers sets the number of brokers, overriding the default 1.
func Brokers(n int) Option { return optionFunc(func(o *options) { o.brokers = n }) }

// Partitions sets how many partitions a topic gets when created on first
// use, overriding the default 1.
func Partitions(n int) Option { return optionFunc(func(o *options) { o.partitions = n }) }

// Topic creates topic with the given partitions when the cluster starts.
// Topics not created are created on first use.
func Topic(name string, partitions int32) Option {
	return optionFunc(func(o *options) { o.topics = append(o.topics, topic{name, partitions}) })
}

// TLS makes the brokers listen with TLS. The caller configures the
// client side in Config().TLS; TLSCerts does both.
func TLS(c *tls.Config) Option { return optionFunc(func(o *options) { o.tls = c }) }

// TLSCerts makes the brokers listen with TLS using certs, and Config trust
// its authority. With mutual, the brokers require a client certificate and
// Config presents certs' client certificate.
func TLSCerts(certs *Certs, mutual bool) Option {
	return optionFunc(func(o *options) {
		o.tls = certs.ServerTLS(mutual)
		o.clientTLS = config.TLS{Enabled: true, CAFile: certs.CAFile}
		if mutual {
			o.clientTLS.CertFile, o.clientTLS.KeyFile = certs.ClientCertFile, certs.ClientKeyFile
		}
	})
}

// SASL requires authentication and creates a superuser with the mechanism
// (config.SASLPlain, config.SASLScramSHA256 or config.SASLScramSHA512),
// whose credentials Config carries.
func SASL(mechanism, user, pass string) Option {
	return optionFunc(func(o *options) { o.sasl = &sasl{mechanism, user, pass} })
}

// NoAutoCreate makes the brokers refuse to create a topic on first use,
// as production clusters run (auto.create.topics.enable=false): only
// Topic, CreateTopic and clients' CreateTopics requests make topics.
func NoAutoCreate() Option { return optionFunc(func(o *options) { o.noAutoCreate = true }) }

// KfakeOpts passes options straight to kfake.NewCluster, after the ones
// this package sets.
func KfakeOpts(opts ...kfake.Opt) Option {
	return optionFunc(func(o *options) { o.kfake = append(o.kfake, opts...) })
}

// NewCluster starts a cluster listening on 127.0.0.1 and shuts it down when
// the test ends.
func NewCluster(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	c, err := Start(opts...)
	if err != nil {
		t.Fatalf("kafkatest: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// Start starts a cluster outside a test, for examples and demos; Close it
// when done.
func Start(opts ...Option) (*Cluster, error) {
	o := options{brokers: 1, partitions: 1}
	for _, opt := range opts {
		opt.apply(&o)
	}
	kopts := []kfake.Opt{
		kfake.NumBrokers(o.brokers),
		kfake.DefaultNumPartitions(o.partitions),
		// Tests shorten sessions so that a crashed member is noticed in
		// seconds, not the broker default of minutes.
		kfake.GroupMinSessionTimeout(100 * time.Millisecond),
	}
	if !o.noAutoCreate {
		kopts = append(kopts, kfake.AllowAutoTopicCreation())
	}
	for _, tp := range o.topics {
		kopts = append(kopts, kfake.SeedTopics(tp.partitions, tp.name))
	}
	if o.tls != nil {
		kopts = append(kopts, kfake.TLS(o.tls))
	}
	if o.sasl != nil {
		kopts = append(kopts, kfake.EnableSASL(), kfake.Superuser(kfakeMechanism(o.sasl.mechanism), o.sasl.user, o.sasl.pass))
	}
	kopts = append(kopts, o.kfake...)
	fake, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("start cluster: %w", err)
	}

	cfg := config.Default()
	cfg.Brokers = fake.ListenAddrs()
	cfg.ClientID = "kafkatest"
	cfg.GroupID = "kafkatest-group"
	cfg.SessionTimeout = 6 * time.Second
	cfg.HeartbeatInterval = 500 * time.Millisecond
	cfg.MaxWaitTime = 500 * time.Millisecond
	cfg.RequestTimeout = 10 * time.Second
	cfg.ConnectionTimeout = 5 * time.Second
	cfg.RetryBackoff = 50 * time.Millisecond
	// A fault that moves a leader (NOT_LEADER_FOR_PARTITION, ...) makes a
	// client refresh its metadata, at most once per MetadataMinAge: 5s by
	// default, which would make each such fault cost a test 5s.
	cfg.MetadataMinAge = 10 * time.Millisecond
	cfg.HandlerRetryBackoff = 10 * time.Millisecond
	cfg.HandlerRetryMaxBackoff = 100 * time.Millisecond
	cfg.ShutdownTimeout = 10 * time.Second
	if o.tls != nil {
		cfg.TLS = o.clientTLS
		cfg.TLS.Enabled = true
	}
	if o.sasl != nil {
		cfg.SASL = config.SASL{Mechanism: o.sasl.mechanism, Username: o.sasl.user, Password: config.Secret(o.sasl.pass)}
	}
	return &Cluster{fake: fake, cfg: cfg}, nil
}

// Close shuts the cluster down.
func (c *Cluster) Close() { c.fake.Close() }

func kfakeMechanism(m string) string {
	switch m {
	case config.SASLPlain:
		return "PLAIN"
	case config.SASLScramSHA512:
		return "SCRAM-SHA-512"
	}
	return "SCRAM-SHA-256"
}

// Fake returns the kfake cluster, for fault injection and control.
func (c *Cluster) Fake() *kfake.Cluster { return c.fake }

// Addrs returns the brokers' 127.0.0.1:port addresses.
func (c *Cluster) Addrs() []string { return c.fake.ListenAddrs() }

// Config returns a configuration that reaches this cluster, with timeouts
// shortened for tests: 6s sessions, 500ms heartbeats and fetch waits,
// 50ms first client retry, 10ms first handler retry, and metadata
// refreshed as often as every 10ms (MetadataMinAge), so that an injected
// leader or coordinator fault costs milliseconds rather than franz-go's
// 5s. Clients built from it (producer.New, consumer.New, Client) get
// these. Each call returns a fresh copy to modify.
func (c *Cluster) Config() config.Kafka {
	cfg := c.cfg
	cfg.Brokers = append([]string(nil), c.cfg.Brokers...)
	return cfg
}

// Client returns a raw franz-go client for this cluster, closed when the
// test ends. opts come after the cluster's seed brokers and credentials.
func (c *Cluster) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base, err := c.Config().Opts()
	if err != nil {
		t.Fatalf("kafkatest: client options: %v", err)
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatalf("kafkatest: new client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// CreateTopic creates topic with partitions, failing the test if it cannot.
func (c *Cluster) CreateTopic(t testing.TB, topic string, partitions int32) {
	t.Helper()
	adm := kadm.NewClient(c.Client(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("kafkatest: create topic %q: %v", topic, err)
	}
}
