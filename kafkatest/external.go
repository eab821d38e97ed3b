package kafkatest

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The environment that names an external cluster, as the real-cluster
// tool (internal/realkafka) prints it. Only KAFKAKIT_TEST_BROKERS is
// needed; the others enable the options that use them.
const (
	// EnvBrokers holds the PLAINTEXT listeners' addresses, comma-separated.
	// When set, every cluster of this package is that external cluster.
	EnvBrokers      = "KAFKAKIT_TEST_BROKERS"
	envSASLBrokers  = "KAFKAKIT_TEST_SASL_BROKERS"     // SASL_PLAINTEXT
	envSASLSSL      = "KAFKAKIT_TEST_SASL_SSL_BROKERS" // SASL_SSL
	envSSLBrokers   = "KAFKAKIT_TEST_SSL_BROKERS"      // SSL, no client certificate
	envMTLSBrokers  = "KAFKAKIT_TEST_MTLS_BROKERS"     // SSL, client certificate required
	envCertsDir     = "KAFKAKIT_TEST_CERTS_DIR"        // the PEM files of the TLS listeners
	envSASLUser     = "KAFKAKIT_TEST_SASL_USER"        // a PLAIN and SCRAM super user
	envSASLPassword = "KAFKAKIT_TEST_SASL_PASSWORD"
)

// External reports whether clusters are the external cluster that
// KAFKAKIT_TEST_BROKERS names, rather than kfake.
func External() bool { return os.Getenv(EnvBrokers) != "" }

// RequireFake skips the test on an external cluster, saying why it needs
// kfake: fault injection (Fault, ControlKey), kfake-only options, or a
// broker that can be closed at will.
func RequireFake(t testing.TB, reason string) {
	t.Helper()
	if External() {
		t.Skipf("needs kfake, not a real cluster: %s", reason)
	}
}

func envList(name string) []string {
	v := os.Getenv(name)
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// external is the one lease of the external cluster this process holds.
// Tests in every package on the machine share that cluster: a file lock
// lets one test binary at a time use it, so that each starts on an empty
// cluster (no topics, no groups, no ACLs) as it would on a fresh kfake.
// Tests of one binary that run in parallel share the lease.
var external struct {
	mu   sync.Mutex
	refs int
	lock *os.File
}

// startExternal takes the lease and builds the configuration that reaches
// the listener o asks for.
func startExternal(o options) (*Cluster, error) {
	if len(o.kfake) > 0 {
		return nil, errors.New("KfakeOpts: kfake options on a real cluster")
	}
	if o.partitions != 1 {
		return nil, fmt.Errorf("Partitions(%d): a real broker's num.partitions is fixed; create topics with Topic", o.partitions)
	}
	addrs, err := listener(o)
	if err != nil {
		return nil, err
	}
	c := &Cluster{external: true}
	c.cfg = testConfig(addrs)
	// Apache Kafka creates a topic on first use while it answers
	// UNKNOWN_TOPIC_OR_PARTITION, which franz-go retries 4 times, a
	// metadata refresh apart: 10ms apart, the retries are over before the
	// topic exists. The fault tests that want 10ms need kfake anyway.
	c.cfg.MetadataMinAge = 250 * time.Millisecond
	if o.tls != nil {
		c.cfg.TLS = o.clientTLS
		c.cfg.TLS.Enabled = true
	}
	admin := testConfig(envList(EnvBrokers))
	if o.sasl != nil {
		user, pass := o.sasl.user, o.sasl.pass
		if o.sasl.mechanism == config.SASLPlain {
			// The broker's PLAIN users are fixed in its JAAS configuration:
			// the test uses its super user instead of the one it named.
			user, pass = os.Getenv(envSASLUser), os.Getenv(envSASLPassword)
		}
		c.cfg.SASL = config.SASL{Mechanism: o.sasl.mechanism, Username: user, Password: config.Secret(pass)}
	}
	if err := acquireExternal(admin); err != nil {
		return nil, err
	}
	c.admin = admin
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if o.sasl != nil && o.sasl.mechanism != config.SASLPlain {
		if err := c.upsertSCRAM(ctx, o.sasl); err != nil {
			c.Close()
			return nil, err
		}
	}
	for _, tp := range o.topics {
		if err := c.createTopic(ctx, tp.name, tp.partitions); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// externalAutoCreates reports whether the external cluster creates topics
// on first use, as its brokers' auto.create.topics.enable says. It asks
// once per process; an error is asked again.
func externalAutoCreates() (bool, error) {
	autoCreate.mu.Lock()
	defer autoCreate.mu.Unlock()
	if autoCreate.known {
		return autoCreate.creates, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	creates, err := describeAutoCreate(ctx, testConfig(envList(EnvBrokers)))
	if err != nil {
		return false, fmt.Errorf("external cluster: auto.create.topics.enable: %w", err)
	}
	autoCreate.known, autoCreate.creates = true, creates
	return creates, nil
}

// autoCreate is what externalAutoCreates learnt.
var autoCreate struct {
	mu             sync.Mutex
	known, creates bool
}

// describeAutoCreate reads auto.create.topics.enable of every broker: the
// cluster creates topics on first use if any broker it asks may.
func describeAutoCreate(ctx context.Context, admin config.Kafka) (bool, error) {
	opts, err := admin.ReaderOpts()
	if err != nil {
		return false, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return false, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	// Without broker IDs kadm describes only the cluster-wide dynamic
	// settings, which omit a node's server.properties.
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return false, err
	}
	rcs, err := adm.DescribeBrokerConfigs(ctx, meta.Brokers.NodeIDs()...)
	if err != nil {
		return false, err
	}
	creates, found := false, false
	for _, rc := range rcs {
		if rc.Err != nil {
			return false, rc.Err
		}
		for _, c := range rc.Configs {
			if c.Key == "auto.create.topics.enable" {
				found = true
				creates = creates || c.MaybeValue() == "true"
			}
		}
	}
	if !found {
		return false, errors.New("no broker describes it")
	}
	return creates, nil
}

// listener picks the addresses of the listener whose security o asks for.
func listener(o options) ([]string, error) {
	name := EnvBrokers
	switch {
	case o.tls != nil && o.sasl != nil:
		name = envSASLSSL
	case o.tls != nil && o.tls.ClientAuth == tls.RequireAndVerifyClientCert:
		name = envMTLSBrokers
	case o.tls != nil:
		name = envSSLBrokers
	case o.sasl != nil:
		name = envSASLBrokers
	}
	addrs := envList(name)
	if len(addrs) == 0 {
		return nil, fmt.Errorf("the options need the listener %s names, and it is not set", name)
	}
	if o.tls != nil && os.Getenv(envCertsDir) == "" {
		return nil, fmt.Errorf("TLS options need %s: use the certificates of NewCerts, which are the cluster's", envCertsDir)
	}
	return addrs, nil
}

func acquireExternal(admin config.Kafka) error {
	external.mu.Lock()
	defer external.mu.Unlock()
	if external.refs > 0 {
		external.refs++
		return nil
	}
	sum := sha256.Sum256([]byte(strings.Join(admin.Brokers, ",")))
	path := filepath.Join(os.TempDir(), "kafkatest-"+hex.EncodeToString(sum[:6])+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("lock the external cluster: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return fmt.Errorf("lock the external cluster: %w", err)
	}
	if err := emptyCluster(admin); err != nil {
		f.Close()
		return err
	}
	external.lock = f
	external.refs = 1
	return nil
}

// releaseExternal ends the lease; the last one empties the cluster for
// whoever comes next and unlocks it.
func releaseExternal(admin config.Kafka) {
	external.mu.Lock()
	defer external.mu.Unlock()
	external.refs--
	if external.refs > 0 {
		return
	}
	// A failure here is found again, and reported, by the next lease.
	_ = emptyCluster(admin)
	external.lock.Close()
	external.lock = nil
}

// emptyCluster deletes every topic but the broker's own, every group that
// has no members left, and every ACL.
func emptyCluster(admin config.Kafka) error {
	opts, err := admin.Opts()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Tests use the same group names, kfake's clusters being new each
	// time: a group whose members are gone, killed without leaving, is
	// deleted once the broker has expired their sessions.
	deadline := time.Now().Add(45 * time.Second)
	for time.Now().Before(deadline) {
		groups, err := adm.ListGroups(ctx)
		if err != nil || len(groups.Groups()) == 0 {
			break
		}
		_, _ = adm.DeleteGroups(ctx, groups.Groups()...)
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := adm.DeleteACLs(ctx, kadm.NewACLs().AnyResource().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny).Allow().Deny().AllowHosts().DenyHosts()); err != nil {
		return fmt.Errorf("empty the external cluster: delete ACLs: %w", err)
	}
	var last error
	deadline = time.Now().Add(45 * time.Second)
	for time.Now().Before(deadline) {
		topics, err := adm.ListTopics(ctx)
		if err != nil {
			last = err
			time.Sleep(100 * time.Millisecond)
			continue
		}
		names := topics.Names()
		if len(names) == 0 {
			return nil
		}
		resps, err := adm.DeleteTopics(ctx, names...)
		last = err
		if err == nil {
			last = resps.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("empty the external cluster: topics remain after 45s: %v", last)
}

func (c *Cluster) upsertSCRAM(ctx context.Context, s *sasl) error {
	mech := kadm.ScramSha256
	if s.mechanism == config.SASLScramSHA512 {
		mech = kadm.ScramSha512
	}
	adm, done, err := c.adminClient()
	if err != nil {
		return err
	}
	defer done()
	resp, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: s.user, Mechanism: mech, Iterations: 4096, Password: s.pass}})
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("create SCRAM user %q: %w", s.user, err)
	}
	// The user is known once a broker authenticates it: until then a
	// first connection may be refused.
	probe := c.cfg
	probe.Brokers = envList(envSASLBrokers)
	probe.TLS = config.TLS{}
	if len(probe.Brokers) == 0 {
		return nil
	}
	return waitAdmin(ctx, probe)
}

func waitAdmin(ctx context.Context, cfg config.Kafka) error {
	opts, err := cfg.Opts()
	if err != nil {
		return err
	}
	var last error
	for ctx.Err() == nil {
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return err
		}
		_, last = kadm.NewClient(cl).BrokerMetadata(ctx)
		cl.Close()
		if last == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the new SCRAM user cannot connect: %w", last)
}

func (c *Cluster) adminClient() (*kadm.Client, func(), error) {
	opts, err := c.admin.Opts()
	if err != nil {
		return nil, nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, nil, err
	}
	return kadm.NewClient(cl), cl.Close, nil
}

// createTopic creates topic with the broker's default replication factor,
// and waits until every broker knows it, as kfake's seeded topics are
// known from the start.
func (c *Cluster) createTopic(ctx context.Context, topic string, partitions int32) error {
	adm, done, err := c.adminClient()
	if err != nil {
		return err
	}
	defer done()
	resp, err := adm.CreateTopic(ctx, partitions, -1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create topic %q: %w", topic, err)
	}
	for ctx.Err() == nil {
		md, err := adm.Metadata(ctx, topic)
		if err == nil {
			if td, ok := md.Topics[topic]; ok && td.Err == nil && len(td.Partitions) == int(partitions) && leadersKnown(td) {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("create topic %q: not in the metadata: %w", topic, ctx.Err())
}

func leadersKnown(td kadm.TopicDetail) bool {
	for _, p := range td.Partitions {
		if p.Err != nil || p.Leader < 0 {
			return false
		}
	}
	return true
}

// externalCerts loads the external cluster's certificates, which its TLS
// listeners use, from KAFKAKIT_TEST_CERTS_DIR.
func externalCerts(dir string) (*Certs, error) {
	c := &Certs{
		CAFile:         filepath.Join(dir, "ca.pem"),
		ServerCertFile: filepath.Join(dir, "server.pem"),
		ServerKeyFile:  filepath.Join(dir, "server-key.pem"),
		ClientCertFile: filepath.Join(dir, "client.pem"),
		ClientKeyFile:  filepath.Join(dir, "client-key.pem"),
		CA:             x509.NewCertPool(),
	}
	ca, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, err
	}
	if !c.CA.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("%s holds no certificate", c.CAFile)
	}
	if c.serverCert, err = tls.LoadX509KeyPair(c.ServerCertFile, c.ServerKeyFile); err != nil {
		return nil, err
	}
	return c, nil
}
