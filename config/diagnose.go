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

	"github.com/twmb/franz-go/pkg/kerr"
)

// ConnectionError is a failure to reach or use the brokers, with the cause
// said in words and the variables to check. Err is the underlying error.
type ConnectionError struct {
	Cause string // e.g. "authentication failed"
	Hint  string // what to check, naming variables
	Err   error
}

func (e *ConnectionError) Error() string {
	msg := e.Cause
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg + ": " + e.Err.Error()
}

func (e *ConnectionError) Unwrap() error { return e.Err }

// Diagnose explains a connection or authentication failure in terms of
// this configuration: an untrusted certificate, a wrong server name, a
// missing client certificate, failed authentication, a refused
// connection. Errors it does not recognise are returned as they are. It
// never includes the password.
func (c Client) Diagnose(err error) error {
	if err == nil {
		return nil
	}
	var ce *ConnectionError
	if errors.As(err, &ce) {
		return err
	}
	diag := func(cause, hint string) error { return &ConnectionError{Cause: cause, Hint: hint, Err: err} }

	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var opErr *net.OpError
	msg := err.Error()
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		return diag("authentication failed", c.saslHint())
	case errors.Is(err, kerr.UnsupportedSaslMechanism):
		return diag("the broker does not accept SASL mechanism "+c.SASL.Mechanism, "check KAFKA_SASL_MECHANISM")
	case errors.Is(err, kerr.IllegalSaslState):
		return diag("the broker expects SASL authentication", "set KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
	case errors.As(err, &unknownAuthority):
		return diag("the broker's certificate is not trusted", "set KAFKA_SSL_CA_FILE to the authority that signed it")
	case errors.As(err, &hostname):
		return diag("the broker's certificate is not valid for the name "+hostname.Host, "check KAFKA_SSL_SERVER_NAME and KAFKA_BROKERS")
	case errors.As(err, &invalid):
		return diag("the broker's certificate is invalid", "it may have expired")
	case strings.Contains(msg, "tls: certificate required"),
		// Apache Kafka's Java TLS answers a missing client certificate
		// with bad_certificate, not TLS 1.3's certificate_required.
		strings.Contains(msg, "tls: bad certificate") && c.TLS.CertFile == "":
		return diag("the broker requires a client certificate", "set KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE")
	case strings.Contains(msg, "tls: bad certificate"), strings.Contains(msg, "tls: unknown certificate authority"):
		return diag("the broker rejected our client certificate", "check KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE")
	case isTLSRecordHeaderError(err):
		return diag("the broker does not speak TLS", "check KAFKA_SSL_ENABLED and the broker's port")
	case errors.Is(err, syscall.ECONNREFUSED):
		return diag("connection refused", "is a broker listening at KAFKA_BROKERS?")
	case errors.As(err, &opErr) && opErr.Timeout():
		return diag("connecting timed out", "check KAFKA_BROKERS and KAFKA_CONNECTION_TIMEOUT")
	case c.SASL.Mechanism != "" && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)):
		// Some brokers answer failed authentication by closing the
		// connection.
		return diag("the broker closed the connection; authentication most likely failed", c.saslHint())
	case c.TLS.Enabled && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)):
		return diag("the broker closed the connection during the TLS handshake", "check KAFKA_SSL_* against the broker's TLS settings")
	}
	return err
}

func (c Client) saslHint() string {
	return fmt.Sprintf("check KAFKA_SASL_MECHANISM (%s), KAFKA_SASL_USERNAME (%s) and KAFKA_SASL_PASSWORD", c.SASL.Mechanism, c.SASL.Username)
}

func isTLSRecordHeaderError(err error) bool {
	var rh tls.RecordHeaderError
	return errors.As(err, &rh)
}
