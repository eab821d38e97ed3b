package kafkatest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
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
func NewCerts(t testing.TB) *Certs {
	t.Helper()
	dir := t.TempDir()
	caKey, caCert, caDER := mustCA(t)
	c := &Certs{CA: x509.NewCertPool()}
	c.CA.AddCert(caCert)
	c.CAFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)

	serverTmpl := leaf("kafkakit test server", x509.ExtKeyUsageServerAuth)
	serverTmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	serverTmpl.DNSNames = []string{"localhost"}
	c.ServerCertFile, c.ServerKeyFile, c.serverCert = mustLeaf(t, dir, "server", serverTmpl, caCert, caKey)
	clientTmpl := leaf("kafkakit test client", x509.ExtKeyUsageClientAuth)
	c.ClientCertFile, c.ClientKeyFile, _ = mustLeaf(t, dir, "client", clientTmpl, caCert, caKey)
	return c
}

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

func mustCA(t testing.TB) (*ecdsa.PrivateKey, *x509.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
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
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert, der
}

func mustLeaf(t testing.TB, dir, name string, tmpl, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (certFile, keyFile string, pair tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = writePEM(t, dir, name+".pem", "CERTIFICATE", der)
	keyFile = writePEM(t, dir, name+"-key.pem", "PRIVATE KEY", keyDER)
	pair, err = tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pair
}

func writePEM(t testing.TB, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
