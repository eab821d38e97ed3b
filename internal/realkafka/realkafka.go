// Package realkafka runs Apache Kafka itself, as KRaft nodes on 127.0.0.1,
// for the tests that must hold against the real broker and not only
// against kfake.
//
// The broker's jars come from Maven: the embedded pom.xml pins the version
// (KafkaVersion), and the first Start asks Maven for the runtime classpath,
// which fetches the jars once into the local Maven repository. Later starts
// reuse the classpath remembered in the user's cache directory and need no
// network. Java 17 and Maven must be installed.
//
// Every node is a combined broker and controller; three nodes form a
// controller quorum of three. Each node listens on free ports for:
//
//   - PLAINTEXT, without authentication (the principal ANONYMOUS);
//   - SASL_PLAINTEXT, with the users of Users for SCRAM-SHA-256,
//     SCRAM-SHA-512 and PLAIN;
//   - SASL_SSL, the same users over TLS;
//   - SSL, TLS without a client certificate;
//   - MTLS, TLS that requires a client certificate signed by the cluster's
//     authority (the principal User:CN=kafkakit test client).
//
// The broker's StandardAuthorizer is on: ANONYMOUS, the admin user and the
// client certificate are super users, and a resource without ACLs is open
// to everyone, so that a test denies something by adding ACLs.
//
// A node creates topics on first use, as Apache Kafka does by default,
// unless Options.NoAutoCreate says otherwise: then only CreateTopics
// requests make topics (auto.create.topics.enable=false), as on most
// production clusters.
package realkafka

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// KafkaVersion is the Apache Kafka version that pom.xml pins.
const KafkaVersion = "4.4.0"

//go:embed pom.xml
var pom []byte

// User is a SASL user that the cluster creates for every mechanism.
type User struct{ Name, Password string }

// Users are the SASL users every cluster has: Admin is a super user,
// Limited has only what ACLs grant it (everything, until a test adds an
// ACL on a resource).
var (
	Admin   = User{"admin", "admin-secret"}
	Limited = User{"limited", "limited-secret"}
)

// Options say what cluster to start.
type Options struct {
	// Nodes is 1 or 3. The default is 1.
	Nodes int
	// Dir holds the nodes' storage, configuration, logs and certificates.
	// The default is a new temporary directory, removed by Stop.
	Dir string
	// Heap is the JVM's maximum heap per node. The default is "512m".
	Heap string
	// NoAutoCreate starts the nodes with auto.create.topics.enable=false,
	// so that a topic exists only once something created it on purpose.
	// The default is false: topics are created on first use.
	NoAutoCreate bool
}

// Node is one KRaft node, broker and controller.
type Node struct {
	ID int
	// Plain, SASL, SASLSSL, SSL and MTLS are the node's listeners'
	// addresses.
	Plain, SASL, SASLSSL, SSL, MTLS string
	controller                      string
	dir                             string
	// LogFile is where the node's process writes its log.
	LogFile string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Cluster is a running set of nodes.
type Cluster struct {
	Nodes []*Node
	// Certs are the authority and certificates of the TLS listeners.
	Certs *kafkatest.Certs
	// Dir is the cluster's directory.
	Dir string

	classpath    string
	heap         string
	noAutoCreate bool
	removeDir    bool
}

// Start formats storage and starts the nodes, and returns once every
// node is in the cluster's metadata. On failure it stops what it started,
// keeps the directory, and its error says why in one line, with the
// node's log file.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	if o.Nodes == 0 {
		o.Nodes = 1
	}
	if o.Nodes != 1 && o.Nodes != 3 {
		return nil, fmt.Errorf("realkafka: %d nodes: want 1 or 3", o.Nodes)
	}
	if o.Heap == "" {
		o.Heap = "512m"
	}
	cp, err := Classpath(ctx)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: o.Dir, classpath: cp, heap: o.Heap, noAutoCreate: o.NoAutoCreate}
	if c.Dir == "" {
		if c.Dir, err = os.MkdirTemp("", "realkafka-"); err != nil {
			return nil, fmt.Errorf("realkafka: %w", err)
		}
		c.removeDir = true
	}
	if err := c.start(ctx, o.Nodes); err != nil {
		// The directory stays, with the logs the error names.
		c.removeDir = false
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context, n int) error {
	certDir := filepath.Join(c.Dir, "certs")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return fmt.Errorf("realkafka: %w", err)
	}
	certs, err := kafkatest.WriteCerts(certDir)
	if err != nil {
		return fmt.Errorf("realkafka: %w", err)
	}
	c.Certs = certs
	keystore := filepath.Join(certDir, "server-keystore.pem")
	if err := concat(keystore, certs.ServerKeyFile, certs.ServerCertFile); err != nil {
		return err
	}

	const perNode = 6
	ports, err := freePorts(perNode * n)
	if err != nil {
		return err
	}
	var voters []string
	for i := range n {
		nd := &Node{
			ID:         i + 1,
			Plain:      ports[perNode*i],
			SASL:       ports[perNode*i+1],
			SASLSSL:    ports[perNode*i+2],
			SSL:        ports[perNode*i+3],
			MTLS:       ports[perNode*i+4],
			controller: ports[perNode*i+5],
			dir:        filepath.Join(c.Dir, fmt.Sprintf("node-%d", i+1)),
		}
		nd.LogFile = filepath.Join(nd.dir, "server.log")
		c.Nodes = append(c.Nodes, nd)
		voters = append(voters, fmt.Sprintf("%d@%s", nd.ID, nd.controller))
	}
	clusterID := newClusterID()
	errs := make(chan error, n)
	for _, nd := range c.Nodes {
		props := c.properties(nd, strings.Join(voters, ","), certs, keystore, n)
		go func() { errs <- c.format(ctx, nd, clusterID, props) }()
	}
	var formatErr error
	for range n {
		formatErr = errors.Join(formatErr, <-errs)
	}
	if formatErr != nil {
		return formatErr
	}
	for _, nd := range c.Nodes {
		if err := c.Restart(nd); err != nil {
			return err
		}
	}
	return c.waitReady(ctx, 3*time.Minute)
}

// properties is a node's server.properties.
func (c *Cluster) properties(nd *Node, voters string, certs *kafkatest.Certs, keystore string, n int) string {
	rf := 1
	minISR := 1
	if n == 3 {
		rf, minISR = 3, 2
	}
	jaas := func(module string) string {
		return "org.apache.kafka.common.security." + module + " required"
	}
	plainUsers := fmt.Sprintf(` username="%s" password="%s" user_%s="%s" user_%s="%s";`,
		Admin.Name, Admin.Password, Admin.Name, Admin.Password, Limited.Name, Limited.Password)
	lines := []string{
		"process.roles=broker,controller",
		"node.id=" + strconv.Itoa(nd.ID),
		"controller.quorum.voters=" + voters,
		"controller.listener.names=CONTROLLER",
		fmt.Sprintf("listeners=PLAINTEXT://%s,SASL_PLAINTEXT://%s,SASL_SSL://%s,SSL://%s,MTLS://%s,CONTROLLER://%s", nd.Plain, nd.SASL, nd.SASLSSL, nd.SSL, nd.MTLS, nd.controller),
		fmt.Sprintf("advertised.listeners=PLAINTEXT://%s,SASL_PLAINTEXT://%s,SASL_SSL://%s,SSL://%s,MTLS://%s", nd.Plain, nd.SASL, nd.SASLSSL, nd.SSL, nd.MTLS),
		"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL,MTLS:SSL,CONTROLLER:PLAINTEXT",
		"inter.broker.listener.name=PLAINTEXT",
		"log.dirs=" + filepath.Join(nd.dir, "data"),

		"sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN",
		"listener.name.sasl_plaintext.plain.sasl.jaas.config=" + jaas("plain.PlainLoginModule") + plainUsers,
		"listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=" + jaas("scram.ScramLoginModule") + ";",
		"listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=" + jaas("scram.ScramLoginModule") + ";",
		"listener.name.sasl_ssl.plain.sasl.jaas.config=" + jaas("plain.PlainLoginModule") + plainUsers,
		"listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=" + jaas("scram.ScramLoginModule") + ";",
		"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=" + jaas("scram.ScramLoginModule") + ";",

		"ssl.keystore.type=PEM",
		"ssl.keystore.location=" + keystore,
		"ssl.truststore.type=PEM",
		"ssl.truststore.location=" + certs.CAFile,
		"listener.name.ssl.ssl.client.auth=none",
		"listener.name.mtls.ssl.client.auth=required",

		"authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		fmt.Sprintf("super.users=User:ANONYMOUS;User:%s;User:CN=%s", Admin.Name, kafkatest.ClientCommonName),
		"allow.everyone.if.no.acl.found=true",

		"auto.create.topics.enable=" + strconv.FormatBool(!c.noAutoCreate),
		"num.partitions=1",
		"default.replication.factor=" + strconv.Itoa(rf),
		"min.insync.replicas=" + strconv.Itoa(minISR),
		"offsets.topic.replication.factor=" + strconv.Itoa(rf),
		"offsets.topic.num.partitions=10",
		"transaction.state.log.replication.factor=" + strconv.Itoa(rf),
		"transaction.state.log.min.isr=" + strconv.Itoa(minISR),
		"transaction.state.log.num.partitions=10",
		"share.coordinator.state.topic.replication.factor=" + strconv.Itoa(rf),
		"share.coordinator.state.topic.min.isr=" + strconv.Itoa(minISR),
		// Tests join groups by the hundred: no initial delay, and
		// sessions as short as kafkatest's kfake allows.
		"group.initial.rebalance.delay.ms=0",
		"group.min.session.timeout.ms=100",
		"group.consumer.min.session.timeout.ms=1000",
		"group.consumer.session.timeout.ms=6000",
		"group.consumer.min.heartbeat.interval.ms=500",
		"group.consumer.heartbeat.interval.ms=500",
		// Share groups (on by default in 4.4: share.version 2): queue
		// tests lock records for seconds, not the 15s minimum, and
		// members join and are fenced as fast as consumer groups'.
		"group.share.min.record.lock.duration.ms=1000",
		"group.share.min.heartbeat.interval.ms=500",
		"group.share.heartbeat.interval.ms=500",
		"group.share.min.session.timeout.ms=1000",
		"group.share.session.timeout.ms=6000",
		// A killed node is fenced, and its partitions led elsewhere, after
		// 6s instead of 9s.
		"broker.heartbeat.interval.ms=1000",
		"broker.session.timeout.ms=6000",
		"log.flush.interval.ms=1000",
	}
	return strings.Join(lines, "\n") + "\n"
}

func (c *Cluster) format(ctx context.Context, nd *Node, clusterID, props string) error {
	if err := os.MkdirAll(nd.dir, 0o700); err != nil {
		return fmt.Errorf("realkafka: %w", err)
	}
	propsFile := filepath.Join(nd.dir, "server.properties")
	if err := os.WriteFile(propsFile, []byte(props), 0o600); err != nil {
		return fmt.Errorf("realkafka: %w", err)
	}
	args := []string{"-Xmx256m", "-cp", c.classpath, "kafka.tools.StorageTool", "format", "--cluster-id=" + clusterID, "-c", propsFile}
	for _, u := range []User{Admin, Limited} {
		for _, m := range []string{"SCRAM-SHA-256", "SCRAM-SHA-512"} {
			args = append(args, "--add-scram", fmt.Sprintf("%s=[name=%s,password=%s]", m, u.Name, u.Password))
		}
	}
	out, err := exec.CommandContext(ctx, "java", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("realkafka: format node %d: %v: %s", nd.ID, err, lastLine(out))
	}
	return nil
}

// Restart starts nd's process again after Kill, or for the first time.
func (c *Cluster) Restart(nd *Node) error {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd != nil {
		return fmt.Errorf("realkafka: node %d is running", nd.ID)
	}
	logf, err := os.OpenFile(nd.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("realkafka: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command("java",
		"-Xmx"+c.heap, "-Xms64m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
		"-Djava.awt.headless=true",
		"-Dorg.slf4j.simpleLogger.showDateTime=true",
		"-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS",
		"-cp", c.classpath, "kafka.Kafka", filepath.Join(nd.dir, "server.properties"))
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a terminal's Ctrl-C reaches the command,
	// which stops the nodes in order, and not the nodes directly.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("realkafka: start node %d: %w", nd.ID, err)
	}
	nd.cmd = cmd
	return nil
}

// PID is the node's process id, 0 when it is not running.
func (nd *Node) PID() int {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd == nil {
		return 0
	}
	return nd.cmd.Process.Pid
}

// Kill sends SIGKILL to the node's process and waits for it to exit.
func (nd *Node) Kill() {
	nd.stop(syscall.SIGKILL, 0)
}

// Signal sends sig (SIGSTOP, SIGCONT, ...) to the node's process.
func (nd *Node) Signal(sig syscall.Signal) error {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd == nil {
		return fmt.Errorf("realkafka: node %d is not running", nd.ID)
	}
	return nd.cmd.Process.Signal(sig)
}

// stop sends sig and waits for the process to exit, for at most grace
// before it sends SIGKILL.
func (nd *Node) stop(sig syscall.Signal, grace time.Duration) {
	nd.mu.Lock()
	cmd := nd.cmd
	nd.cmd = nil
	nd.mu.Unlock()
	if cmd == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	_ = cmd.Process.Signal(syscall.SIGCONT)
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return
	case <-time.After(grace):
	}
	_ = cmd.Process.Kill()
	<-done
}

// Shutdown stops the node with SIGTERM, the broker's controlled shutdown,
// and SIGKILL after 30s.
func (nd *Node) Shutdown() { nd.stop(syscall.SIGTERM, 30*time.Second) }

// Stop shuts every node down and removes the cluster's directory if Start
// made it.
func (c *Cluster) Stop() {
	var wg sync.WaitGroup
	for _, nd := range c.Nodes {
		wg.Go(nd.Shutdown)
	}
	wg.Wait()
	if c.removeDir {
		_ = os.RemoveAll(c.Dir)
	}
}

// Brokers are the PLAINTEXT listeners' addresses.
func (c *Cluster) Brokers() []string { return c.addrs(func(nd *Node) string { return nd.Plain }) }

// SASLBrokers are the SASL_PLAINTEXT listeners' addresses.
func (c *Cluster) SASLBrokers() []string { return c.addrs(func(nd *Node) string { return nd.SASL }) }

// SASLSSLBrokers are the SASL_SSL listeners' addresses.
func (c *Cluster) SASLSSLBrokers() []string {
	return c.addrs(func(nd *Node) string { return nd.SASLSSL })
}

// SSLBrokers are the TLS listeners' addresses, without client certificates.
func (c *Cluster) SSLBrokers() []string { return c.addrs(func(nd *Node) string { return nd.SSL }) }

// MTLSBrokers are the TLS listeners' addresses that require a client
// certificate.
func (c *Cluster) MTLSBrokers() []string { return c.addrs(func(nd *Node) string { return nd.MTLS }) }

func (c *Cluster) addrs(f func(*Node) string) []string {
	var out []string
	for _, nd := range c.Nodes {
		out = append(out, f(nd))
	}
	return out
}

// Env is the cluster's addresses and credentials as environment lines:
// KAFKA_BROKERS for kafkakit itself, and the KAFKAKIT_TEST_ variables
// that make kafkatest use this cluster. KAFKAKIT_TEST_CERTS_DIR holds
// ca.pem, server.pem, server-key.pem, client.pem and client-key.pem.
func (c *Cluster) Env() []string {
	j := func(s []string) string { return strings.Join(s, ",") }
	return []string{
		"KAFKA_BROKERS=" + j(c.Brokers()),
		"KAFKAKIT_TEST_BROKERS=" + j(c.Brokers()),
		"KAFKAKIT_TEST_SASL_BROKERS=" + j(c.SASLBrokers()),
		"KAFKAKIT_TEST_SASL_SSL_BROKERS=" + j(c.SASLSSLBrokers()),
		"KAFKAKIT_TEST_SSL_BROKERS=" + j(c.SSLBrokers()),
		"KAFKAKIT_TEST_MTLS_BROKERS=" + j(c.MTLSBrokers()),
		"KAFKAKIT_TEST_CERTS_DIR=" + filepath.Dir(c.Certs.CAFile),
		"KAFKAKIT_TEST_SASL_USER=" + Admin.Name,
		"KAFKAKIT_TEST_SASL_PASSWORD=" + Admin.Password,
		"KAFKAKIT_TEST_SASL_LIMITED_USER=" + Limited.Name,
		"KAFKAKIT_TEST_SASL_LIMITED_PASSWORD=" + Limited.Password,
	}
}

// waitReady waits until metadata lists every node, failing at once if a
// node's process exits.
func (c *Cluster) waitReady(ctx context.Context, maxWait time.Duration) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithTimeout(ctx, maxWait)
	defer cancel()
	exited := make(chan *Node, len(c.Nodes))
	for _, nd := range c.Nodes {
		nd.mu.Lock()
		cmd := nd.cmd
		nd.mu.Unlock()
		if cmd == nil {
			continue
		}
		proc := cmd.Process
		wg.Go(func() {
			// Only a wait on the process itself reaps it: this watches
			// without reaping, so Stop's Wait still works.
			for ctx.Err() == nil {
				if err := proc.Signal(syscall.Signal(0)); err != nil || zombie(proc.Pid) {
					exited <- nd
					return
				}
				select {
				case <-ctx.Done():
				case <-time.After(200 * time.Millisecond):
				}
			}
		})
	}
	for {
		n, err := c.brokersInMetadata(ctx)
		if err == nil && n == len(c.Nodes) {
			return nil
		}
		select {
		case nd := <-exited:
			return fmt.Errorf("realkafka: node %d exited during start: %s (log: %s)", nd.ID, failure(nd.LogFile), nd.LogFile)
		case <-ctx.Done():
			return fmt.Errorf("realkafka: cluster not ready after %v: %d of %d brokers in metadata, last error %v (logs: %s)", maxWait, n, len(c.Nodes), err, filepath.Join(c.Dir, "node-*", "server.log"))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// WaitReady waits until every running node is in the metadata again, after
// a Restart.
func (c *Cluster) WaitReady(ctx context.Context, maxWait time.Duration) error {
	return c.waitReady(ctx, maxWait)
}

func (c *Cluster) brokersInMetadata(ctx context.Context) (int, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers()...), kgo.RequestRetries(0), kgo.DialTimeout(time.Second))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(rctx, cl)
	if err != nil {
		return 0, err
	}
	return len(resp.Brokers), nil
}

func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name.
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// failure is the line of a log that says why the process stopped: the
// first ERROR or exception line, else the last line.
func failure(logFile string) string {
	b, err := os.ReadFile(logFile)
	if err != nil {
		return err.Error()
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.Contains(l, " ERROR ") || strings.Contains(l, "Exception:") {
			return strings.TrimSpace(l)
		}
	}
	return lastLine(b)
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func concat(dst string, srcs ...string) error {
	var buf bytes.Buffer
	for _, s := range srcs {
		b, err := os.ReadFile(s)
		if err != nil {
			return fmt.Errorf("realkafka: %w", err)
		}
		buf.Write(b)
	}
	if err := os.WriteFile(dst, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("realkafka: %w", err)
	}
	return nil
}

// freePorts finds n free ports on 127.0.0.1, holding all of them open
// until each is found so that none is returned twice.
func freePorts(n int) ([]string, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var addrs []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("realkafka: free port: %w", err)
		}
		ls = append(ls, l)
		addrs = append(addrs, l.Addr().String())
	}
	return addrs, nil
}

// newClusterID is a random cluster id as the storage tool's random-uuid
// prints one: 16 bytes in unpadded URL-safe base64.
// newClusterID is a random cluster id. It may start with '-', which the
// format command takes for an option unless it is given as
// --cluster-id=<id>.
func newClusterID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Classpath is the broker's runtime classpath. The first call asks Maven,
// which fetches the jars into the local Maven repository; the answer is
// kept in the user's cache directory, keyed by the pom's hash, and used
// while every jar it names is still there.
func Classpath(ctx context.Context) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	sum := sha256.Sum256(pom)
	dir := filepath.Join(cache, "kafkakit-realkafka", hex.EncodeToString(sum[:6]))
	cpFile := filepath.Join(dir, "classpath.txt")
	if b, err := os.ReadFile(cpFile); err == nil && jarsExist(string(b)) {
		return strings.TrimSpace(string(b)), nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("realkafka: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pom.xml"), pom, 0o644); err != nil {
		return "", fmt.Errorf("realkafka: %w", err)
	}
	tmp := cpFile + ".tmp"
	cmd := exec.CommandContext(ctx, "mvn", "-q", "-B", "-f", filepath.Join(dir, "pom.xml"),
		"dependency:build-classpath", "-Dmdep.includeScope=runtime", "-Dmdep.outputFile="+tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("realkafka: resolve Apache Kafka %s with Maven: %v: %s", KafkaVersion, err, lastLine(out))
	}
	b, err := os.ReadFile(tmp)
	if err != nil || !jarsExist(string(b)) {
		return "", fmt.Errorf("realkafka: Maven wrote no usable classpath to %s", tmp)
	}
	if err := os.Rename(tmp, cpFile); err != nil {
		return "", fmt.Errorf("realkafka: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func jarsExist(cp string) bool {
	cp = strings.TrimSpace(cp)
	if cp == "" {
		return false
	}
	for _, jar := range strings.Split(cp, string(os.PathListSeparator)) {
		if _, err := os.Stat(jar); err != nil {
			return false
		}
	}
	return true
}
