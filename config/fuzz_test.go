package config

import (
	"strconv"
	"strings"
	"testing"

	"github.com/kafkakit/kafkakit/internal/env"
)

// FuzzFromEnv feeds arbitrary values to the parser: it must never panic,
// never repeat the password, and what it accepts must validate and turn
// into client options.
func FuzzFromEnv(f *testing.F) {
	f.Add("localhost:9092", "30000", "3000", "all", "5", "none", "", "", "")
	f.Add("a:1,b", "abc", "x", "2", "6", "brotli", "gssapi", "u", "pass-word-1")
	f.Add(",", "0", "30000", "leader", "10", "zstd", "plain", "", "pass-word-2")
	f.Add("h:99999", "-5", "1.5", "none", "0", "gzip", "scram-sha-512", "user", "")
	f.Add("embedded", "1", "1", "ALL", "1", "LZ4", "SCRAM-SHA-256", "u", "p@ss word 3")
	f.Add(":9092", "99999999999999999999", "", "", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, brokers, session, heartbeat, acks, inflight, compression, mechanism, user, password string) {
		vars := map[string]string{
			"KAFKA_BROKERS":                brokers,
			"KAFKA_SESSION_TIMEOUT":        session,
			"KAFKA_HEARTBEAT_INTERVAL":     heartbeat,
			"KAFKA_ACKS":                   acks,
			"KAFKA_MAX_IN_FLIGHT_REQUESTS": inflight,
			"KAFKA_COMPRESSION":            compression,
			"KAFKA_SASL_MECHANISM":         mechanism,
			"KAFKA_SASL_USERNAME":          user,
			"KAFKA_SASL_PASSWORD":          password,
		}
		k, err := FromEnv(env.Map(vars))
		if err != nil {
			// Errors quote the values they show: a leaked password would
			// appear quoted. (Unquoted, a short password can be part of any
			// text, such as the quoting of another value.)
			if password != "" && strings.Contains(err.Error(), strconv.Quote(password)) && !otherValueHolds(vars, password) {
				t.Fatalf("error shows the password: %v", err)
			}
			return
		}
		if err := k.Validate(); err != nil {
			t.Fatalf("FromEnv accepted what Validate refuses: %v", err)
		}
		if !k.Embedded() {
			if _, err := k.Opts(); err != nil {
				t.Fatalf("accepted configuration yields no client options: %v", err)
			}
		}
	})
}

// otherValueHolds reports whether a variable other than the password holds
// s, in which case an error quoting that variable may show it.
func otherValueHolds(vars map[string]string, s string) bool {
	for name, v := range vars {
		if name != "KAFKA_SASL_PASSWORD" && strings.Contains(v, s) {
			return true
		}
	}
	return false
}
