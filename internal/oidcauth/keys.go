package oidcauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Limits of the key set, which is input like any other.
const (
	// maxKeysBytes bounds a JWKS document.
	maxKeysBytes = 1 << 20
	// refetchEvery is the least time between two fetches of the keys
	// for a token naming a key not held (the issuer may have rotated
	// them): tokens naming made up keys cannot make kafkakit hammer the
	// issuer.
	refetchEvery = 30 * time.Second
)

// keySet is the issuer's public keys, fetched from its jwks_uri and
// fetched again, at most every refetchEvery, when a token names a key
// not held. It implements oidc.KeySet.
type keySet struct {
	url    string
	client *http.Client

	mu   sync.Mutex
	keys []jose.JSONWebKey
	// refetched is when the last fetch for a key not held began.
	refetched time.Time
}

func newKeySet(url string, client *http.Client) *keySet {
	return &keySet{url: url, client: client}
}

// joseAlgorithms are algorithms, for go-jose's parser.
func joseAlgorithms() []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(algorithms))
	for i, a := range algorithms {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}

// VerifySignature returns the payload of raw when a key of the set
// signed it.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSigned(raw, joseAlgorithms())
	if err != nil {
		return nil, fmt.Errorf("malformed token: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("the token has more than one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	if payload, ok := verifyWith(k.held(), jws, kid); ok {
		return payload, nil
	}
	keys, err := k.refetch(ctx)
	if err != nil {
		return nil, err
	}
	if payload, ok := verifyWith(keys, jws, kid); ok {
		return payload, nil
	}
	return nil, errors.New("no key of the issuer signed the token")
}

// verifyWith tries the keys named kid (all, when kid is empty).
func verifyWith(keys []jose.JSONWebKey, jws *jose.JSONWebSignature, kid string) ([]byte, bool) {
	for _, key := range keys {
		if kid != "" && key.KeyID != kid {
			continue
		}
		if payload, err := jws.Verify(&key); err == nil {
			return payload, true
		}
	}
	return nil, false
}

func (k *keySet) held() []jose.JSONWebKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys
}

// refetch fetches the keys again unless a refetch began less than
// refetchEvery ago, and returns those held then.
func (k *keySet) refetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	k.mu.Lock()
	recent := time.Since(k.refetched) < refetchEvery
	if !recent {
		k.refetched = time.Now() // others wait for the next turn
	}
	keys := k.keys
	k.mu.Unlock()
	if recent {
		return keys, nil
	}
	return k.fetch(ctx)
}

// fetch reads the key set and keeps its public signing keys.
func (k *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	keys, err := k.get(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetching the issuer's keys from %s: %w", k.url, err)
	}
	k.mu.Lock()
	k.keys = keys
	k.mu.Unlock()
	return keys, nil
}

// get GETs the key set, bounded in size.
func (k *keySet) get(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeysBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxKeysBytes {
		return nil, fmt.Errorf("the key set is larger than %d bytes", maxKeysBytes)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("the key set is not a JWKS: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, key := range set.Keys {
		if key.IsPublic() && key.Valid() && (key.Use == "" || key.Use == "sig") {
			keys = append(keys, key)
		}
	}
	return keys, nil
}
