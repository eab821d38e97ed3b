// Package kgolog routes franz-go's client logs through log/slog.
//
// It is plugin/kslog with one change: franz-go logs every connection,
// metadata refresh and group step at its info level, which drowns a
// service's own info lines, so those become debug. Warnings and errors keep
// their level.
package kgolog

import (
	"context"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Logger adapts a *slog.Logger to kgo.Logger.
type Logger struct{ sl *slog.Logger }

var _ kgo.Logger = (*Logger)(nil)

// New returns a kgo.Logger writing to sl.
func New(sl *slog.Logger) *Logger { return &Logger{sl} }

// Level tells franz-go the most verbose level worth building a line for.
func (l *Logger) Level() kgo.LogLevel {
	ctx := context.Background()
	switch {
	case l.sl.Enabled(ctx, slog.LevelDebug):
		return kgo.LogLevelDebug
	case l.sl.Enabled(ctx, slog.LevelWarn):
		return kgo.LogLevelWarn
	case l.sl.Enabled(ctx, slog.LevelError):
		return kgo.LogLevelError
	}
	return kgo.LogLevelNone
}

// Log writes one franz-go log line.
func (l *Logger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	l.sl.Log(context.Background(), toSlog(level), msg, keyvals...)
}

func toSlog(level kgo.LogLevel) slog.Level {
	switch level {
	case kgo.LogLevelError:
		return slog.LevelError
	case kgo.LogLevelWarn:
		return slog.LevelWarn
	}
	return slog.LevelDebug
}
