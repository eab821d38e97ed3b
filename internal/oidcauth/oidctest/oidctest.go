// Package oidctest serves an OpenID Connect issuer on 127.0.0.1 for
// tests: its discovery document, its key set, and tokens it signs.
package oidctest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Issuer is an OpenID Connect issuer served on 127.0.0.1 by a test: its
// discovery document and key set, and tokens it signs.
type Issuer struct {
	URL     string
	mu      sync.Mutex
	keys    map[string]*ecdsa.PrivateKey // by kid
	Fetches atomic.Int64                 // of the key set
}

// NewIssuer serves an issuer with one key, "k1", for the test's life.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	is := &Issuer{keys: map[string]*ecdsa.PrivateKey{}}
	is.AddKey(t, "k1")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": is.URL, "jwks_uri": is.URL + "/keys",
			"id_token_signing_alg_values_supported": []string{"ES256"}})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		is.Fetches.Add(1)
		is.mu.Lock()
		var set jose.JSONWebKeySet
		for kid, k := range is.keys {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"})
		}
		is.mu.Unlock()
		json.NewEncoder(w).Encode(set)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	is.URL = srv.URL
	return is
}

// AddKey publishes a new key kid.
func (is *Issuer) AddKey(t testing.TB, kid string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	is.mu.Lock()
	is.keys[kid] = k
	is.mu.Unlock()
}

// Sign returns a token of claims signed with the key kid, or with a key
// the issuer does not publish when kid is unknown.
func (is *Issuer) Sign(t testing.TB, kid string, claims map[string]any) string {
	t.Helper()
	is.mu.Lock()
	k := is.keys[kid]
	is.mu.Unlock()
	if k == nil {
		var err error
		if k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// Claims are a valid token's claims for audience, with scope.
func (is *Issuer) Claims(audience string, scope any) map[string]any {
	return map[string]any{"iss": is.URL, "aud": audience, "sub": "svc-orders",
		"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(), "scope": scope}
}
