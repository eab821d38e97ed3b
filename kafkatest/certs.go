package kafkatest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Certs is a certificate authority and certificates made for one test:
// a server certificate for 127.0.0.1 and localhost, and a client
// certificate for mutual TLS, written as PEM files.
type Certs struct {
	// CAFile is the authority's certificate, to trust (KAFKA_SSL_CA_FILE).
	CAFile string
	// ServerCertFile and ServerKeyFile are the server's certificate and
	// key, for an HTTPS listener (HTTP_TLS_CERT_FILE, HTTP_TLS_KEY_FILE).
	ServerCertFile, ServerKeyFile string
	// ClientCertFile and ClientKeyFile are a client certificate for
	// mutual TLS (KAFKA_SSL_CERT_FILE, KAFKA_SSL_KEY_FILE).
	ClientCertFile, ClientKeyFile string

	// CA is the authority's pool, for Go clients.
	CA *x509.CertPool

	serverCert tls.Certificate
}

// NewCerts makes a fresh authority and certificates in a temporary
// directory removed when the test ends.
//
// On an external cluster, NewCerts returns the cluster's own certificates
// (KAFKAKIT_TEST_CERTS_DIR), which its TLS listeners present and trust.
func NewCerts(t testing.TB) *Certs {
	t.Helper()
	if dir := os.Getenv(envCertsDir); External() && dir != "" {
		c, err := externalCerts(dir)
		if err != nil {
			t.Fatalf("kafkatest: certificates of the external cluster: %v", err)
		}
		return c
	}
	c, err := WriteCerts(t.TempDir())
	if err != nil {
		t.Fatalf("kafkatest: %v", err)
	}
	return c
}

// WriteCerts makes a fresh authority and certificates in dir, outside a
// test: for a real broker's listeners, which read the same PEM files.
func WriteCerts(dir string) (*Certs, error) {
	caKey, caCert, caDER, err := newCA()
	if err != nil {
		return nil, err
	}
	c := &Certs{CA: x509.NewCertPool()}
	c.CA.AddCert(caCert)
	if c.CAFile, err = writePEM(dir, "ca.pem", "CERTIFICATE", caDER); err != nil {
		return nil, err
	}
	serverTmpl := leaf("kafkakit test server", x509.ExtKeyUsageServerAuth)
	serverTmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	serverTmpl.DNSNames = []string{"localhost"}
	if c.ServerCertFile, c.ServerKeyFile, c.serverCert, err = newLeaf(dir, "server", serverTmpl, caCert, caKey); err != nil {
		return nil, err
	}
	clientTmpl := leaf(ClientCommonName, x509.ExtKeyUsageClientAuth)
	if c.ClientCertFile, c.ClientKeyFile, _, err = newLeaf(dir, "client", clientTmpl, caCert, caKey); err != nil {
		return nil, err
	}
	return c, nil
}

// ClientCommonName is the common name of the client certificate, which a
// broker that authenticates clients by certificate sees as the principal
// User:CN=kafkakit test client.
const ClientCommonName = "kafkakit test client"

// ServerTLS is a listener configuration with the server certificate;
// with requireClientCert, clients must present a certificate signed by the
// authority.
func (c *Certs) ServerTLS(requireClientCert bool) *tls.Config {
	cfg := &tls.Config{Certificates: []tls.Certificate{c.serverCert}, MinVersion: tls.VersionTLS12}
	if requireClientCert {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = c.CA
	}
	return cfg
}

func leaf(name string, usage x509.ExtKeyUsage) *x509.Certificate {
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
}

func newCA() (*ecdsa.PrivateKey, *x509.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kafkakit test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	return key, cert, der, nil
}

func newLeaf(dir, name string, tmpl, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (certFile, keyFile string, pair tls.Certificate, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", pair, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return "", "", pair, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", pair, err
	}
	if certFile, err = writePEM(dir, name+".pem", "CERTIFICATE", der); err != nil {
		return "", "", pair, err
	}
	if keyFile, err = writePEM(dir, name+"-key.pem", "PRIVATE KEY", keyDER); err != nil {
		return "", "", pair, err
	}
	pair, err = tls.LoadX509KeyPair(certFile, keyFile)
	return certFile, keyFile, pair, err
}

func writePEM(dir, name, typ string, der []byte) (string, error) {
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		return "", fmt.Errorf("write certificate: %w", err)
	}
	return path, nil
}
