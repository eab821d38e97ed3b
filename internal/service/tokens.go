package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/internal/logattr"
	"github.com/kafkakit/kafkakit/internal/oidcauth"
)

// loadTokens returns the bearer tokens of HTTP_TOKENS_FILE and
// HTTP_AUTH_TOKEN (named apicontract.DefaultTokenName, with every
// scope); nil, which lets every request through, when neither is set.
// Errors name the variable and, for the file, the line; never a token.
func loadTokens(cfg Config) (*apicontract.Tokens, error) {
	if cfg.TokensFile == "" && cfg.AuthToken.Reveal() == "" {
		return nil, nil
	}
	tokens := apicontract.NewTokens()
	if cfg.TokensFile != "" {
		var err error
		if tokens, err = apicontract.ReadTokensFile(cfg.TokensFile); err != nil {
			return nil, fmt.Errorf("HTTP_TOKENS_FILE=%q: %w", cfg.TokensFile, err)
		}
	}
	if token := cfg.AuthToken; token.Reveal() != "" {
		if err := tokens.Add(token, apicontract.FullGrant(apicontract.DefaultTokenName)); err != nil {
			return nil, fmt.Errorf("HTTP_AUTH_TOKEN and HTTP_TOKENS_FILE=%q: %w", cfg.TokensFile, err)
		}
	}
	return tokens, nil
}

// startGuard reads the tokens (a bad tokens file stops start-up) and the
// OIDC issuer's keys, if any, and with HTTP_TOKENS_FILE set re-reads the
// file on SIGHUP (see watchTokens). Stopping stops listening for SIGHUP,
// waits for a reload in progress and closes the connections to the
// issuer.
func (s *server) startGuard(ctx context.Context) (stopFunc, error) {
	tokens, err := loadTokens(s.cfg)
	if err != nil {
		return nil, err
	}
	s.guard = apicontract.NewGuard(tokens)
	stopOIDC := stopFunc(nop)
	if s.cfg.OIDCIssuer != "" {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		v, err := s.oidcVerifier(ctx, &http.Client{Transport: transport, Timeout: 10 * time.Second})
		if err != nil {
			transport.CloseIdleConnections()
			return nil, err
		}
		if tokens == nil {
			tokens = apicontract.NewTokens() // JWTs alone
		}
		s.guard = apicontract.NewGuard(tokens).WithVerifier(v)
		stopOIDC = func() error { transport.CloseIdleConnections(); return nil }
	}
	if s.cfg.TokensFile == "" {
		return stopOIDC, nil
	}
	s.logger.LogAttrs(ctx, slog.LevelInfo, "bearer tokens read", slog.String("file", s.cfg.TokensFile), slog.Int("tokens", tokens.Len()))
	stopWatch := s.watchTokens()
	return func() error { stopWatch(); return stopOIDC() }, nil
}

// watchTokens re-reads HTTP_TOKENS_FILE on each SIGHUP until the
// function it returns is called, which waits for a reload in progress: a
// file that reads well replaces the tokens at once, requests in flight
// finishing with the set they started with; a bad one is logged at
// ERROR, naming its line, and the tokens read before stay.
func (s *server) watchTokens() func() {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			case <-hup:
				s.reloadTokens()
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(quit)
		<-done
	}
}

// oidcDiscoveryTimeout bounds reading the OIDC issuer's discovery
// document and keys at start-up.
const oidcDiscoveryTimeout = 30 * time.Second

// oidcVerifier reads the OIDC issuer's discovery document and keys; an
// issuer that does not answer stops start-up.
func (s *server) oidcVerifier(ctx context.Context, client *http.Client) (*oidcauth.Verifier, error) {
	ctx, cancel := context.WithTimeout(ctx, oidcDiscoveryTimeout)
	defer cancel()
	v, err := oidcauth.New(ctx, oidcauth.Config{Issuer: s.cfg.OIDCIssuer, Audience: s.cfg.OIDCAudience,
		ScopesClaim: s.cfg.OIDCScopesClaim, Client: client, Logger: s.logger})
	if err != nil {
		return nil, fmt.Errorf("HTTP_OIDC_ISSUER=%q: %w", s.cfg.OIDCIssuer, err)
	}
	s.logger.LogAttrs(ctx, slog.LevelInfo, "JWT bearer tokens of the OIDC issuer accepted", slog.String("issuer", s.cfg.OIDCIssuer),
		slog.String("audience", s.cfg.OIDCAudience))
	return v, nil
}

// reloadTokens reads the tokens again and, if they read well, makes the
// guard check them.
func (s *server) reloadTokens() {
	ctx := context.Background()
	tokens, err := loadTokens(s.cfg)
	if err != nil {
		attrs := []slog.Attr{slog.String("file", s.cfg.TokensFile), logattr.Err(err)}
		if le, ok := errors.AsType[*apicontract.LineError](err); ok {
			attrs = append(attrs, slog.Int("line", le.Line))
		}
		s.logger.LogAttrs(ctx, slog.LevelError, "bearer tokens not reloaded: the tokens read before stay", attrs...)
		return
	}
	s.guard.Store(tokens)
	s.logger.LogAttrs(ctx, slog.LevelInfo, "bearer tokens reloaded", slog.String("file", s.cfg.TokensFile), slog.Int("tokens", tokens.Len()))
}
