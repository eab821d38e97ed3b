package config

import (
	"io"
	"log/slog"

	"github.com/kafkakit/kafkakit/internal/env"
)

// Logging is how the service logs.
type Logging struct {
	// Level is the least severe level written: debug, info, warn or error
	// (LOG_LEVEL, default info).
	Level slog.Level
	// Format is json, for machines, or text, for people (LOG_FORMAT,
	// default json).
	Format string
}

// LoggingFromEnv reads LOG_LEVEL and LOG_FORMAT through lookup.
func LoggingFromEnv(lookup func(string) (string, bool)) (Logging, error) {
	p := env.NewParser(lookup)
	l := Logging{Level: slog.LevelInfo, Format: "json"}
	switch p.Enum(EnvLogLevel, "info", "debug", "info", "warn", "error") {
	case "debug":
		l.Level = slog.LevelDebug
	case "warn":
		l.Level = slog.LevelWarn
	case "error":
		l.Level = slog.LevelError
	}
	l.Format = p.Enum(EnvLogFormat, l.Format, "json", "text")
	return l, p.Err()
}

// NewLogger returns a logger writing to w at the configured level and
// format.
func (l Logging) NewLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: l.Level}
	if l.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
