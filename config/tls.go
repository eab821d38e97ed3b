package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"strings"
)

// validate loads the files to find out early whether they are usable.
func (t TLS) validate() error {
	_, err := t.Config()
	return err
}

// Config builds the client TLS configuration, or returns nil when TLS is
// off. Errors name the variable and file at fault, never their contents.
func (t TLS) Config() (*tls.Config, error) {
	if !t.Enabled {
		var errs []error
		for _, f := range []struct{ name, value string }{
			{"TLS.CAFile", t.CAFile},
			{"TLS.CertFile", t.CertFile},
			{"TLS.KeyFile", t.KeyFile},
		} {
			if f.value != "" {
				errs = append(errs, &FieldError{Field: f.name, Value: f.value, Reason: "is set but %s is not true", Other: "TLS.Enabled"})
			}
		}
		return nil, errors.Join(errs...)
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // documented as test-only, off by default
	}
	var errs []error
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		switch {
		case err != nil:
			errs = append(errs, &FieldError{Field: "TLS.CAFile", Value: t.CAFile, Reason: "cannot be read: " + pathErr(err)})
		default:
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				errs = append(errs, &FieldError{Field: "TLS.CAFile", Value: t.CAFile, Reason: "holds no PEM certificate"})
			}
			cfg.RootCAs = pool
		}
	}
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		errs = append(errs, &FieldError{Field: "TLS.CertFile", Value: t.CertFile, Reason: "is set without %s", Other: "TLS.KeyFile"})
	case t.CertFile == "" && t.KeyFile != "":
		errs = append(errs, &FieldError{Field: "TLS.KeyFile", Value: t.KeyFile, Reason: "is set without %s", Other: "TLS.CertFile"})
	case t.CertFile != "":
		cert, err := loadKeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			errs = append(errs, err)
		} else {
			cfg.Certificates = []tls.Certificate{cert}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cfg, nil
}

// loadKeyPair is tls.LoadX509KeyPair with errors that name the variable.
func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, &FieldError{Field: "TLS.CertFile", Value: certFile, Reason: "cannot be read: " + pathErr(err)}
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, &FieldError{Field: "TLS.KeyFile", Value: keyFile, Reason: "cannot be read: " + pathErr(err)}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// X509KeyPair's messages describe the problem, not the key.
		return tls.Certificate{}, &FieldError{Field: "TLS.CertFile", Value: certFile, Other: "TLS.KeyFile", OtherValue: keyFile,
			Reason: "and %s are not a usable key pair: " + strings.ReplaceAll(err.Error(), "%", "%%")}
	}
	return cert, nil
}

// pathErr drops the path from an *os.PathError, which the caller already
// quotes.
func pathErr(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
