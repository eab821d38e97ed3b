package service

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const secret = "pa55-w0rd-that-must-not-leak"

// envFor is the environment that makes `kafkakit serve` use cfg's
// security settings.
func envFor(cfg config.Kafka) map[string]string {
	m := map[string]string{}
	if cfg.TLS.Enabled {
		m["KAFKA_SSL_ENABLED"] = "true"
		m["KAFKA_SSL_CA_FILE"] = cfg.TLS.CAFile
		m["KAFKA_SSL_CERT_FILE"] = cfg.TLS.CertFile
		m["KAFKA_SSL_KEY_FILE"] = cfg.TLS.KeyFile
		m["KAFKA_SSL_SERVER_NAME"] = cfg.TLS.ServerName
	}
	if cfg.SASL.Mechanism != "" {
		m["KAFKA_SASL_MECHANISM"] = cfg.SASL.Mechanism
		m["KAFKA_SASL_USERNAME"] = cfg.SASL.Username
		m["KAFKA_SASL_PASSWORD"] = cfg.SASL.Password.Reveal()
	}
	return m
}

// TestSecurityMatrix produces and consumes through the library and through
// `kafkakit serve` against a broker secured each way.
func TestSecurityMatrix(t *testing.T) {
	kafkatest.Parallel(t)
	certs := kafkatest.NewCerts(t)
	type clusterOpts []kafkatest.Option
	cases := map[string]clusterOpts{
		"plaintext": nil,
		"tls":       {kafkatest.TLSCerts(certs, false)},
		"mtls":      {kafkatest.TLSCerts(certs, true)},
	}
	for _, mech := range []string{config.SASLPlain, config.SASLScramSHA256, config.SASLScramSHA512} {
		cases["sasl-"+mech] = clusterOpts{kafkatest.SASL(mech, "alice", secret)}
		cases["tls+sasl-"+mech] = clusterOpts{kafkatest.TLSCerts(certs, false), kafkatest.SASL(mech, "alice", secret)}
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			c := kafkatest.NewCluster(t, append(opts, kafkatest.Topic("secure", 1))...)
			cfg := c.Config()
			p, err := producer.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			libraryRoundTrip(t, cfg, p, name)
			serviceRoundTrip(t, c, cfg, name)
		})
	}
}

// libraryRoundTrip sends with p and consumes with a consumer of group
// lib-name on cfg's secured cluster.
func libraryRoundTrip(t *testing.T, cfg config.Kafka, p *producer.Producer, name string) {
	t.Helper()
	if _, err := p.Send(t.Context(), producer.Message{Topic: "secure", Value: []byte("from the library")}); err != nil {
		t.Fatalf("library send: %v", err)
	}
	got := make(chan string, 2)
	cs, err := consumer.New(cfg, consumer.Group("lib-"+name))
	if err != nil {
		t.Fatal(err)
	}
	cs.Subscribe("secure", true, consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		got <- string(m.Value)
		return nil
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cs.Run(ctx) }()
	select {
	case v := <-got:
		if v != "from the library" {
			t.Errorf("library consumed %q", v)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("library consumer got nothing in 30s")
	}
	cancel()
	<-done
	cs.Close()
}

// serviceRoundTrip runs the service with cfg's security settings: it
// sends over HTTP, and consumes with its log handler in group svc-name.
// No log line may show the password.
func serviceRoundTrip(t *testing.T, c *kafkatest.Cluster, cfg config.Kafka, name string) {
	t.Helper()
	env := envFor(cfg)
	env["KAFKA_CONSUMER_TOPICS"] = "secure"
	env["KAFKA_CONSUMER_FROM_BEGINNING"] = "true"
	env["KAFKA_GROUP_ID"] = "svc-" + name
	url, stop, sink := startService(t, c, env)
	resp, err := http.Post(url+"/kafka/send", "application/json", strings.NewReader(`{"topic":"secure","value":"from the service"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("service send: %d %s", resp.StatusCode, body)
	}
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		for _, l := range sink.lines {
			if l["msg"] == "message" && l["value"] == "from the service" {
				return nil
			}
		}
		return errors.New("the service's consumer has not logged the message")
	})
	if err := stop(); err != nil {
		t.Error(err)
	}
	sink.assertNoSecret(t)
}

func (s *logSink) assertNoSecret(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		if strings.Contains(fmt.Sprint(l), secret) {
			t.Errorf("a log line shows the password: %v", l)
		}
	}
}

// TestSecurityFailuresAreClear: each misconfiguration makes /readyz answer
// 503 with a reason naming the cause, quickly, and no log line or error
// shows the password.
func TestSecurityFailuresAreClear(t *testing.T) {
	kafkatest.Parallel(t)
	certs := kafkatest.NewCerts(t)
	cases := []struct {
		name    string
		cluster []kafkatest.Option
		change  func(*config.Kafka)
		want    string
	}{
		{"wrong password", []kafkatest.Option{kafkatest.SASL(config.SASLScramSHA256, "alice", "right-password")},
			func(k *config.Kafka) { k.SASL.Password = secret }, "authentication"},
		{"unknown user", []kafkatest.Option{kafkatest.SASL(config.SASLScramSHA256, "alice", secret)},
			func(k *config.Kafka) { k.SASL.Username = "mallory" }, "authentication"},
		{"wrong mechanism", []kafkatest.Option{kafkatest.SASL(config.SASLScramSHA512, "alice", secret)},
			func(k *config.Kafka) { k.SASL.Mechanism = config.SASLPlain }, "authentication"},
		{"untrusted certificate", []kafkatest.Option{kafkatest.TLSCerts(certs, false)},
			func(k *config.Kafka) { k.TLS.CAFile = "" }, "certificate is not trusted"},
		{"wrong server name", []kafkatest.Option{kafkatest.TLSCerts(certs, false)},
			func(k *config.Kafka) { k.TLS.ServerName = "kafka.example" }, "not valid for the name kafka.example"},
		{"missing client certificate", []kafkatest.Option{kafkatest.TLSCerts(certs, true)},
			func(k *config.Kafka) { k.TLS.CertFile, k.TLS.KeyFile = "", "" }, "requires a client certificate"},
		{"plaintext to a TLS broker", []kafkatest.Option{kafkatest.TLSCerts(certs, false)},
			func(k *config.Kafka) { k.TLS = config.TLS{} }, "TLS"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			kafkatest.Parallel(t)
			c := kafkatest.NewCluster(t, tt.cluster...)
			cfg := c.Config()
			tt.change(&cfg)
			env := envFor(cfg)
			env["KAFKA_CONNECTION_TIMEOUT"] = "1000"
			env["KAFKA_REQUEST_TIMEOUT"] = "3000"
			// The send above stays buffered: do not wait long to flush it.
			env["KAFKA_SHUTDOWN_TIMEOUT"] = "1000"
			url, stop, sink := startService(t, c, env)
			start := time.Now()
			resp, err := http.Get(url + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("/readyz took %v", took)
			}
			t.Logf("/readyz: %s", body)
			if resp.StatusCode != 503 || !strings.Contains(string(body), tt.want) {
				t.Errorf("/readyz: %d %s; want 503 saying %q", resp.StatusCode, body, tt.want)
			}
			if strings.Contains(string(body), secret) {
				t.Errorf("/readyz shows the password: %s", body)
			}
			// A send fails within the request timeout, not hanging.
			start = time.Now()
			resp, err = http.Post(url+"/kafka/send", "application/json", strings.NewReader(`{"topic":"t","value":"v"}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if took := time.Since(start); resp.StatusCode < 500 || took > 10*time.Second {
				t.Errorf("send: %d after %v", resp.StatusCode, took)
			}
			kafkatest.WaitFor(t, 10*time.Second, func() error {
				if sink.find("cannot use the brokers; /readyz answers 503 until they answer") == nil {
					return errors.New("start-up check has not logged the failure")
				}
				return nil
			})
			if line := sink.find("cannot use the brokers; /readyz answers 503 until they answer"); !strings.Contains(fmt.Sprint(line["error"]), tt.want) {
				t.Errorf("start-up log %v does not say %q", line, tt.want)
			}
			stop()
			sink.assertNoSecret(t)
		})
	}
}

// TestBrokerDeniesTopic: a SASL user whose ACLs do not allow a topic gets a
// 403 saying the broker denied it.
func TestBrokerDeniesTopic(t *testing.T) {
	kafkatest.Parallel(t)
	allow := func(op kmsg.ACLOperation, res kmsg.ACLResourceType, name string) kfake.ACL {
		return kfake.ACL{Resource: res, Name: name, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
	}
	c := kafkatest.NewCluster(t,
		kafkatest.Topic("open", 1), kafkatest.Topic("closed", 1),
		kafkatest.SASL(config.SASLScramSHA256, "admin", "admin-pw"),
		kafkatest.KfakeOpts(kfake.EnableACLs(), kfake.User("SCRAM-SHA-256", "bob", secret,
			allow(kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTopic, "open"),
			allow(kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, "open"),
			allow(kmsg.ACLOperationIdempotentWrite, kmsg.ACLResourceTypeCluster, "kafka-cluster"),
		)),
	)
	cfg := c.Config()
	cfg.SASL.Username, cfg.SASL.Password = "bob", secret
	env := envFor(cfg)
	// bob may not create or read __kafkakit_idempotency, which would stop
	// start-up (see TestTopicsRefusedStopStart): the feature is off.
	env["HTTP_IDEMPOTENCY_TTL"] = "0"
	url, _, sink := startService(t, c, env)
	send := func(topic string) (int, string) {
		resp, err := http.Post(url+"/kafka/send", "application/json", strings.NewReader(`{"topic":"`+topic+`","value":"v"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if status, body := send("open"); status != 200 {
		t.Fatalf("allowed topic: %d %s", status, body)
	}
	start := time.Now()
	status, body := send("closed")
	if status != 403 || !strings.Contains(body, "broker denied") {
		t.Errorf("denied topic: %d %s; want 403 saying the broker denied it", status, body)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("denial took %v", took)
	}
	sink.assertNoSecret(t)
}

// TestHTTPSAndToken serves HTTPS with a token required everywhere.
func TestHTTPSAndToken(t *testing.T) {
	kafkatest.Parallel(t)
	certs := kafkatest.NewCerts(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("t", 1))
	url, _, sink := startService(t, c, map[string]string{
		"HTTP_TLS_CERT_FILE":          certs.ServerCertFile,
		"HTTP_TLS_KEY_FILE":           certs.ServerKeyFile,
		"HTTP_AUTH_TOKEN":             secret,
		"HTTP_AUTH_TOKEN_PROTECT_ALL": "true",
	})
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("listening at %s, want https", url)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certs.CA}}}
	get := func(path, token string) int {
		req, _ := http.NewRequest(http.MethodGet, url+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/openapi.json"} {
		if got := get(path, ""); got != 401 {
			t.Errorf("%s without token: %d, want 401", path, got)
		}
		if got := get(path, secret); got != 200 {
			t.Errorf("%s with token: %d, want 200", path, got)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, url+"/kafka/send", strings.NewReader(`{"topic":"t","value":"v"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("send over HTTPS: %d", resp.StatusCode)
	}
	sink.assertNoSecret(t)
}
