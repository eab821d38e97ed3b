package service

import (
	"context"
	"log/slog"
	"strconv"
	"unicode/utf8"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/internal/logattr"
)

// maxLoggedValue is how much of a value the log handler shows.
const maxLoggedValue = 1024

// logHandler writes one structured line per message, the service's
// default handler: a way to watch a topic without writing code.
type logHandler struct{ logger *slog.Logger }

var _ consumer.Handler = logHandler{}

func (h logHandler) Handle(ctx context.Context, msg *consumer.Message) error {
	headers := make([]slog.Attr, 0, len(msg.Headers))
	for _, hd := range msg.Headers {
		headers = append(headers, slog.String(hd.Key, printable(hd.Value, maxLoggedValue)))
	}
	value := slog.Any("value", nil)
	if msg.Value != nil {
		value = slog.String("value", printable(msg.Value, maxLoggedValue))
	}
	h.logger.LogAttrs(ctx, slog.LevelInfo, "message",
		logattr.Topic(msg.Topic), logattr.Partition(msg.Partition), logattr.Offset(msg.Offset),
		logattr.Key(msg.Key), slog.Time("timestamp", msg.Timestamp),
		slog.Attr{Key: "headers", Value: slog.GroupValue(headers...)},
		value, slog.Int("value_bytes", len(msg.Value)))
	return nil
}

// printable shows b as text, cut at limit bytes; bytes that are not UTF-8
// are shown as a count instead.
func printable(b []byte, limit int) string {
	if !utf8.Valid(b) {
		return "<" + strconv.Itoa(len(b)) + " bytes of binary>"
	}
	if len(b) <= limit {
		return string(b)
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return string(b[:cut]) + "…"
}
