package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/internal/logattr"
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

// startGuard reads the tokens (a bad tokens file stops start-up), and
// with HTTP_TOKENS_FILE set re-reads them on SIGHUP: a file that reads
// well replaces the tokens at once, requests in flight finishing with the
// set they started with; a bad one is logged at ERROR, naming its line,
// and the tokens read before stay. Stopping stops listening for SIGHUP
// and waits for a reload in progress.
func (s *server) startGuard(ctx context.Context) (stopFunc, error) {
	tokens, err := loadTokens(s.cfg)
	if err != nil {
		return nil, err
	}
	s.guard = apicontract.NewGuard(tokens)
	if s.cfg.TokensFile == "" {
		return nop, nil
	}
	s.logger.LogAttrs(ctx, slog.LevelInfo, "bearer tokens read", slog.String("file", s.cfg.TokensFile), slog.Int("tokens", tokens.Len()))
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
	return func() error {
		signal.Stop(hup)
		close(quit)
		<-done
		return nil
	}, nil
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
