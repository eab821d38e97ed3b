package service

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRealBrokerACLs: on Apache Kafka's StandardAuthorizer, a SCRAM user
// whose ACLs do not allow writing a topic gets 403 naming the topic from
// /kafka/send, not a 500, and a consumer of a topic it may not read says
// so in a log line. kfake's ACLs are tested by TestBrokerDeniesTopic.
func TestRealBrokerACLs(t *testing.T) {
	if !kafkatest.External() {
		t.Skip("needs a real cluster's authorizer (KAFKAKIT_TEST_BROKERS)")
	}
	c := kafkatest.NewCluster(t, kafkatest.Topic("open", 1), kafkatest.Topic("closed", 1),
		kafkatest.SASL(config.SASLScramSHA256, "bob", secret))

	// The PLAINTEXT listener's principal, ANONYMOUS, is a super user.
	super, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(os.Getenv(kafkatest.EnvBrokers), ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close()
	acls := kadm.NewACLs().Allow("User:bob").Topics("open").Operations(kadm.OpWrite, kadm.OpDescribe, kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral)
	// An ACL on "closed" for someone else: a resource with ACLs is closed
	// to everyone they do not allow.
	others := kadm.NewACLs().Allow("User:admin").Topics("closed").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral)
	for _, b := range []*kadm.ACLBuilder{acls, others} {
		res, err := kadm.NewClient(super).CreateACLs(t.Context(), b)
		if err == nil {
			for _, r := range res {
				err = errors.Join(err, r.Err)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	env := envFor(c.Config())
	env["KAFKA_CONSUMER_TOPICS"] = "closed"
	env["KAFKA_GROUP_ID"] = "bob-group"
	// bob may create no topic: without these serve would stop at start,
	// unable to make its Idempotency-Key and dead-letter topics
	// (TestTopicsRefusedStopStart tests that).
	env["HTTP_IDEMPOTENCY_TTL"] = "0"
	env["KAFKA_DLQ_SUFFIX"] = ""
	url, stop, sink := startService(t, c, env)
	defer stop()
	// ACLs reach every broker's authorizer through the metadata log: the
	// first sends may still find the topic open.
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if status, body := post(t, url, "/kafka/send", `{"topic":"open","value":"v"}`); status != http.StatusOK {
			return fmt.Errorf("allowed topic: %d %s", status, body)
		}
		return nil
	})
	status, body := post(t, url, "/kafka/send", `{"topic":"closed","value":"v"}`)
	if status != http.StatusForbidden || !strings.Contains(body, "closed") {
		t.Errorf("denied topic: %d %s; want 403 naming the topic", status, body)
	}
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		for _, l := range sink.lines {
			if l["level"] != "WARN" && l["level"] != "ERROR" {
				continue
			}
			if strings.Contains(fmt.Sprint(l), "closed") && strings.Contains(strings.ToLower(fmt.Sprint(l)), "authoriz") {
				t.Logf("the consumer's log line: %v", l)
				return nil
			}
		}
		return errors.New("no log line says the consumer may not read closed")
	})
	sink.assertNoSecret(t)
}
