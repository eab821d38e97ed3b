package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestDiagnose(t *testing.T) {
	sasl := Default()
	sasl.SASL = SASL{Mechanism: SASLScramSHA256, Username: "alice", Password: "hunter2-secret"}
	withTLS := Default()
	withTLS.TLS.Enabled = true
	withCert := withTLS
	withCert.TLS.CertFile, withCert.TLS.KeyFile = "client.pem", "client-key.pem"
	plain := Default()
	tests := []struct {
		cfg  Kafka
		err  error
		want string // "" means returned unchanged
	}{
		{sasl, fmt.Errorf("auth: %w", kerr.SaslAuthenticationFailed), "authentication failed (check KAFKA_SASL_MECHANISM (scram-sha-256), KAFKA_SASL_USERNAME (alice)"},
		{sasl, kerr.UnsupportedSaslMechanism, "does not accept SASL mechanism scram-sha-256"},
		{plain, kerr.IllegalSaslState, "expects SASL authentication"},
		{sasl, io.EOF, "authentication most likely failed"},
		{withTLS, &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, "certificate is not trusted"},
		{withTLS, &tls.CertificateVerificationError{Err: x509.HostnameError{Host: "kafka.example", Certificate: &x509.Certificate{}}}, "not valid for the name kafka.example"},
		{withTLS, &tls.CertificateVerificationError{Err: x509.CertificateInvalidError{Reason: x509.Expired, Cert: &x509.Certificate{}}}, "certificate is invalid"},
		{withTLS, errors.New("remote error: tls: certificate required"), "requires a client certificate"},
		{withCert, errors.New("remote error: tls: bad certificate"), "rejected our client certificate"},
		{withTLS, errors.New("remote error: tls: bad certificate"), "requires a client certificate"}, // Apache Kafka, no certificate sent
		{withTLS, tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, "does not speak TLS"},
		{withTLS, io.EOF, "during the TLS handshake"},
		{plain, &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, "connection refused"},
		{plain, &net.OpError{Op: "dial", Err: timeoutErr{}}, "connecting timed out"},
		{plain, io.EOF, ""},
		{plain, errors.New("something else"), ""},
	}
	for _, tt := range tests {
		got := tt.cfg.Diagnose(tt.err)
		if tt.want == "" {
			if got != tt.err {
				t.Errorf("Diagnose(%v) = %v, want it unchanged", tt.err, got)
			}
			continue
		}
		if !strings.Contains(got.Error(), tt.want) || !errors.Is(got, tt.err) {
			t.Errorf("Diagnose(%v) = %v, want it to say %q and wrap the cause", tt.err, got, tt.want)
		}
		if strings.Contains(got.Error(), "hunter2-secret") {
			t.Errorf("Diagnose(%v) shows the password", tt.err)
		}
		if again := tt.cfg.Diagnose(got); again != got {
			t.Errorf("Diagnose is not idempotent: %v", again)
		}
	}
	if Default().Diagnose(nil) != nil {
		t.Error("Diagnose(nil) != nil")
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
