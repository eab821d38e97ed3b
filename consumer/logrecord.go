package consumer

import (
	"encoding/base64"
	"log/slog"
	"unicode/utf8"

	"github.com/kafkakit/kafkakit/internal/logattr"
)

// maxLoggedBytes bounds each key, value and header value in a log line
// that carries a whole record, so that one huge record cannot flood the
// logs.
const maxLoggedBytes = 4096

// recordAttrs describe msg in full, for a log line that is the only trace
// left of a record the consumer skips: where it was, its key, value,
// headers and timestamp. Bytes that are UTF-8 are logged as text (the
// handler escapes them); others as base64, said by a *_encoding
// attribute. Each is cut at maxLoggedBytes, with *_size giving the length.
func recordAttrs(msg *Message) []slog.Attr {
	attrs := []slog.Attr{logattr.Offset(msg.Offset), slog.Time("timestamp", msg.Timestamp)}
	attrs = append(attrs, bytesAttrs(logattr.KeyKey, msg.Key)...)
	attrs = append(attrs, bytesAttrs("value", msg.Value)...)
	headers := make([]loggedHeader, len(msg.Headers))
	for i, h := range msg.Headers {
		v, enc := loggable(h.Value)
		headers[i] = loggedHeader{Key: h.Key, Value: v, Encoding: enc}
	}
	return append(attrs, slog.Any("headers", headers))
}

// loggedHeader is a header in a log line; a slice of them keeps the
// order and duplicates a map would lose.
type loggedHeader struct {
	Key      string `json:"key"`
	Value    string `json:"value"`
	Encoding string `json:"value_encoding,omitempty"` // "base64", or empty for text
}

// bytesAttrs logs b as name, with name_encoding when it is base64 and
// name_size when it was cut. A nil b is null.
func bytesAttrs(name string, b []byte) []slog.Attr {
	if b == nil {
		return []slog.Attr{slog.Any(name, nil)}
	}
	v, enc := loggable(b)
	attrs := []slog.Attr{slog.String(name, v)}
	if enc != "" {
		attrs = append(attrs, slog.String(name+"_encoding", enc))
	}
	if len(b) > maxLoggedBytes {
		attrs = append(attrs, slog.Int(name+"_size", len(b)))
	}
	return attrs
}

// loggable is b, cut at maxLoggedBytes, as text when it is UTF-8 and as
// base64 otherwise, with the encoding ("" for text).
func loggable(b []byte) (string, string) {
	if len(b) > maxLoggedBytes {
		b = b[:maxLoggedBytes]
		// A cut through a character is not a reason for base64.
		for i := 0; i < utf8.UTFMax && len(b) > 0 && !utf8.Valid(b); i++ {
			b = b[:len(b)-1]
		}
	}
	if utf8.Valid(b) {
		return string(b), ""
	}
	return base64.StdEncoding.EncodeToString(b), "base64"
}
