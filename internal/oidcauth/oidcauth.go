// Package oidcauth verifies JWT bearer tokens an OpenID Connect issuer
// signed (HTTP_OIDC_ISSUER), for apicontract.Guard: the issuer's keys
// are found through its discovery document (jwks_uri), the token's
// issuer, audience, expiry and signature are checked by
// github.com/coreos/go-oidc, and its scopes are read from a claim. It is
// kept apart from apicontract so that the library's HTTP packages do not
// pull in go-oidc and go-jose.
package oidcauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/kafkakit/kafkakit/apicontract"
)

// Config says which tokens to accept.
type Config struct {
	// Issuer is the issuer's URL, exactly as its tokens' iss claim
	// says; its discovery document is at
	// <Issuer>/.well-known/openid-configuration.
	Issuer string
	// Audience must be among the token's aud claim.
	Audience string
	// ScopesClaim names the claim holding the scopes: a JSON array of
	// strings, or one string of scopes separated by spaces (OAuth's
	// scope). The default is "scope".
	ScopesClaim string
	// Client fetches the discovery document and the keys; the default
	// is a client with a 10s timeout.
	Client *http.Client
	// Logger logs, at DEBUG, why a token was refused; the default is
	// slog.Default().
	Logger *slog.Logger
}

// verifyTimeout bounds one token's verification, a fetch of the keys
// included.
const verifyTimeout = 5 * time.Second

// algorithms are the signatures accepted: asymmetric ones only, so that
// a key published to verify can never sign (no HS256, no none).
var algorithms = []string{oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512, oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA}

// Verifier checks tokens; it implements apicontract.Verifier and is safe
// for concurrent use.
type Verifier struct {
	verifier *oidc.IDTokenVerifier
	claim    string
	logger   *slog.Logger
}

var _ apicontract.Verifier = (*Verifier)(nil)

// New reads the issuer's discovery document and keys, within ctx. An
// issuer that cannot be read, or whose document names another issuer,
// is an error.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.ScopesClaim == "" {
		cfg.ScopesClaim = "scope"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, cfg.Client), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidcauth: %w", err)
	}
	var meta struct {
		JWKS string `json:"jwks_uri"`
	}
	if err := provider.Claims(&meta); err != nil || meta.JWKS == "" {
		return nil, errors.New("oidcauth: the discovery document names no jwks_uri")
	}
	keys := newKeySet(meta.JWKS, cfg.Client)
	if _, err := keys.fetch(ctx); err != nil {
		return nil, fmt.Errorf("oidcauth: %w", err)
	}
	return &Verifier{
		verifier: oidc.NewVerifier(cfg.Issuer, keys, &oidc.Config{ClientID: cfg.Audience, SupportedSigningAlgs: algorithms}),
		claim:    cfg.ScopesClaim,
		logger:   cfg.Logger,
	}, nil
}

// Verify returns the grant of a valid token: its sub claim as the name,
// and those of its scopes that are kafkakit's (apicontract.ClaimedGrant).
func (v *Verifier) Verify(ctx context.Context, raw string) (*apicontract.Grant, error) {
	ctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	defer cancel()
	tok, err := v.verifier.Verify(ctx, raw)
	if err != nil {
		v.logger.LogAttrs(ctx, slog.LevelDebug, "bearer JWT refused", slog.String("error", err.Error()))
		return nil, err
	}
	var claims map[string]json.RawMessage
	if err := tok.Claims(&claims); err != nil {
		return nil, err
	}
	scopes, err := scopesOf(claims[v.claim])
	if err != nil {
		v.logger.LogAttrs(ctx, slog.LevelDebug, "bearer JWT refused", slog.String("error", "claim "+v.claim+": "+err.Error()))
		return nil, err
	}
	name := tok.Subject
	if name == "" {
		name = "oidc"
	}
	return apicontract.ClaimedGrant(name, scopes), nil
}

// scopesOf reads a scopes claim: an array of strings, or a string of
// scopes separated by spaces; none when the claim is absent.
func scopesOf(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil {
		return list, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, errors.New("is neither an array of strings nor a string")
	}
	return strings.Fields(s), nil
}
