package kafkatest

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Cluster is a running in-process Kafka cluster, or the external cluster
// that KAFKAKIT_TEST_BROKERS names (see [External]).
type Cluster struct {
	fake *kfake.Cluster
	cfg  config.Kafka

	// On an external cluster: its PLAINTEXT super user configuration,
	// for creating topics and users and for emptying it, and the test
	// that NewCluster made it for.
	external bool
	admin    config.Kafka
	tb       testing.TB
	closed   sync.Once
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
	// noAutoCreate: the brokers create no topic on first use;
	// autoCreate: the test needs brokers that do.
	noAutoCreate, autoCreate bool
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
// Topics not created are created on first use, except by a cluster of
// NoAutoCreate or an external cluster that does not create them.
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
// Topic, CreateTopic and clients' CreateTopics requests make topics. On an
// external cluster that creates topics on first use, a test that asks for
// it is skipped; on one that does not, it runs.
func NoAutoCreate() Option { return optionFunc(func(o *options) { o.noAutoCreate = true }) }

// AutoCreate says that the test's premise is a cluster that creates a
// topic on first use: kfake's clusters do unless NoAutoCreate is given,
// and on an external cluster that does not (auto.create.topics.enable is
// false), the test is skipped, saying so. A test that merely uses a topic
// should create it with Topic or CreateTopic instead.
func AutoCreate() Option { return optionFunc(func(o *options) { o.autoCreate = true }) }

// KfakeOpts passes options straight to kfake.NewCluster, after the ones
// this package sets.
func KfakeOpts(opts ...kfake.Opt) Option {
	return optionFunc(func(o *options) { o.kfake = append(o.kfake, opts...) })
}

// NewCluster starts a cluster listening on 127.0.0.1 and shuts it down when
// the test ends.
//
// When KAFKAKIT_TEST_BROKERS names an external cluster, NewCluster uses it
// instead: it waits until no other test binary on the machine uses it,
// deletes every topic, group and ACL left on it, and creates the topics
// of Topic; the same is done again when the test ends. A test that asks
// for more brokers than it has, or for kfake options, is skipped.
func NewCluster(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	if External() {
		o := newOptions(opts)
		if len(o.kfake) > 0 {
			RequireFake(t, "it sets kfake options")
		}
		skipOnAutoCreation(t, o)
		if have := len(envList(EnvBrokers)); o.brokers > have {
			t.Skipf("needs %d brokers, the external cluster has %d", o.brokers, have)
		}
	}
	c, err := Start(opts...)
	if err != nil {
		t.Fatalf("kafkatest: %v", err)
	}
	c.tb = t
	t.Cleanup(c.Close)
	if c.external {
		// Counted by the real-cluster tier's script.
		t.Logf("kafkatest: on the external cluster at %s", strings.Join(c.cfg.Brokers, ","))
	}
	return c
}

// skipOnAutoCreation skips a test whose premise the external cluster's
// auto.create.topics.enable contradicts: the test would pass or fail for
// the wrong reason there.
func skipOnAutoCreation(t testing.TB, o options) {
	t.Helper()
	if !o.noAutoCreate && !o.autoCreate {
		return
	}
	creates, err := externalAutoCreates()
	switch {
	case err != nil:
		t.Fatalf("kafkatest: %v", err)
	case o.noAutoCreate && creates:
		t.Skip("needs a cluster that creates no topic on first use; the external cluster does")
	case o.autoCreate && !creates:
		t.Skip("needs a cluster that creates topics on first use; the external cluster does not (auto.create.topics.enable=false)")
	}
}

func newOptions(opts []Option) options {
	o := options{brokers: 1, partitions: 1}
	for _, opt := range opts {
		opt.apply(&o)
	}
	return o
}

// Start starts a cluster outside a test, for examples and demos; Close it
// when done. With KAFKAKIT_TEST_BROKERS set, it uses that cluster as
// NewCluster does.
func Start(opts ...Option) (*Cluster, error) {
	o := newOptions(opts)
	if External() {
		c, err := startExternal(o)
		if err != nil {
			return nil, fmt.Errorf("external cluster: %w", err)
		}
		return c, nil
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

	cfg := testConfig(fake.ListenAddrs())
	if o.tls != nil {
		cfg.TLS = o.clientTLS
		cfg.TLS.Enabled = true
	}
	if o.sasl != nil {
		cfg.SASL = config.SASL{Mechanism: o.sasl.mechanism, Username: o.sasl.user, Password: config.Secret(o.sasl.pass)}
	}
	return &Cluster{fake: fake, cfg: cfg}, nil
}

// testConfig is the configuration of a test's clients of brokers.
func testConfig(brokers []string) config.Kafka {
	cfg := config.Default()
	cfg.Brokers = brokers
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
	return cfg
}

// Close shuts the cluster down. On an external cluster, it ends the
// test's use of it.
func (c *Cluster) Close() {
	if !c.external {
		c.fake.Close()
		return
	}
	c.closed.Do(func() { releaseExternal(c.admin) })
}

func kfakeMechanism(m string) string {
	switch m {
	case config.SASLPlain:
		return "PLAIN"
	case config.SASLScramSHA512:
		return "SCRAM-SHA-512"
	}
	return "SCRAM-SHA-256"
}

// Fake returns the kfake cluster, for fault injection and control. On an
// external cluster, which has no such controls, it skips the test that
// NewCluster made the cluster for (call it from that test's goroutine),
// and panics for a cluster of Start.
func (c *Cluster) Fake() *kfake.Cluster {
	if c.fake == nil {
		if c.tb != nil {
			c.tb.Helper()
			RequireFake(c.tb, "it injects faults or controls requests through Cluster.Fake")
		}
		panic("kafkatest: Fake on an external cluster")
	}
	return c.fake
}

// Addrs returns the brokers' 127.0.0.1:port addresses: on an external
// cluster, those of the listener that Config uses.
func (c *Cluster) Addrs() []string { return append([]string(nil), c.cfg.Brokers...) }

// Config returns a configuration that reaches this cluster, with timeouts
// shortened for tests: 6s sessions, 500ms heartbeats and fetch waits,
// 50ms first client retry, 10ms first handler retry, and metadata
// refreshed as often as every 10ms (MetadataMinAge), so that an injected
// leader or coordinator fault costs milliseconds rather than franz-go's
// 5s. Clients built from it (producer.New, consumer.New, Client) get
// these. On an external cluster, metadata is refreshed at most every
// 250ms instead: franz-go's retries of a topic that Apache Kafka is
// creating on first use must span the creation. Each call returns a fresh
// copy to modify.
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if c.external {
		if err := c.createTopic(ctx, topic, partitions); err != nil {
			t.Fatalf("kafkatest: %v", err)
		}
		return
	}
	adm := kadm.NewClient(c.Client(t))
	resp, err := adm.CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("kafkatest: create topic %q: %v", topic, err)
	}
}
