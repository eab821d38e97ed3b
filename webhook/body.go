package webhook

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/internal/timefmt"
)

// Encoding says how a key, value, header key or header value is written in
// a [Body]. A null key or value has no encoding: its encoding field is
// null.
type Encoding string

const (
	// EncodingJSON is a value embedded as the JSON text it is, byte for
	// byte. Only values use it.
	EncodingJSON Encoding = apicontract.EncodingJSON
	// EncodingString is a JSON string holding the bytes, which are UTF-8.
	EncodingString Encoding = apicontract.EncodingString
	// EncodingBase64 is a JSON string holding the bytes in standard base64
	// with padding (RFC 4648), for bytes that are not UTF-8.
	EncodingBase64 Encoding = apicontract.EncodingBase64
)

// Body is the JSON POSTed for each message. It is always valid UTF-8 JSON,
// and every key, value and header decodes back to the record's exact
// bytes, so that no record is lost to a receiver's decoder replacing
// bytes it cannot read.
type Body struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	// Timestamp is RFC 3339 in UTC with milliseconds.
	Timestamp string `json:"timestamp"`
	// Key is the key as a string (KeyEncoding "string") or, when it is
	// not UTF-8, in base64 ("base64"); null for a null key.
	Key         *string  `json:"key"`
	KeyEncoding Encoding `json:"key_encoding"`
	// Headers are the record's headers in order, duplicates included.
	Headers []BodyHeader `json:"headers"`
	// Value is the value embedded as JSON (ValueEncoding "json") when it
	// is one JSON value in UTF-8 with no whitespace around it, else a
	// string when it is UTF-8 ("string"), else base64 ("base64"); null
	// for a null value.
	Value         json.RawMessage `json:"value"`
	ValueEncoding Encoding        `json:"value_encoding"`
}

// BodyHeader is one record header in a [Body].
type BodyHeader struct {
	// Key is the header's name. A name that is not UTF-8, which Kafka's
	// protocol allows but its clients do not write, is base64 and
	// KeyEncoding is "base64"; otherwise KeyEncoding is left out.
	Key         string   `json:"key"`
	KeyEncoding Encoding `json:"key_encoding,omitempty"`
	// Value is the header's value as a string ("string") or in base64
	// ("base64"); null for a null value.
	Value         *string  `json:"value"`
	ValueEncoding Encoding `json:"value_encoding"`
}

// NewBody builds the JSON body for msg. It copies what it keeps of msg,
// whose bytes the consumer reuses after Handle returns.
func NewBody(msg *consumer.Message) Body {
	b := Body{
		Topic:     msg.Topic,
		Partition: msg.Partition,
		Offset:    msg.Offset,
		Timestamp: msg.Timestamp.UTC().Format(timefmt.Millis),
		Headers:   make([]BodyHeader, len(msg.Headers)),
	}
	b.Key, b.KeyEncoding = text(msg.Key)
	for i, h := range msg.Headers {
		bh := &b.Headers[i]
		bh.Key = h.Key
		if !utf8.ValidString(h.Key) {
			bh.Key, bh.KeyEncoding = base64.StdEncoding.EncodeToString([]byte(h.Key)), EncodingBase64
		}
		bh.Value, bh.ValueEncoding = text(h.Value)
	}
	b.Value, b.ValueEncoding = value(msg.Value)
	return b
}

// text is v as a string, or in base64 when it is not UTF-8; nil for nil.
func text(v []byte) (*string, Encoding) {
	if v == nil {
		return nil, ""
	}
	if utf8.Valid(v) {
		s := string(v)
		return &s, EncodingString
	}
	s := base64.StdEncoding.EncodeToString(v)
	return &s, EncodingBase64
}

func value(v []byte) (json.RawMessage, Encoding) {
	if v == nil {
		return nil, ""
	}
	if isJSON(v) {
		return append(json.RawMessage(nil), v...), EncodingJSON
	}
	s, enc := text(v)
	return appendString(nil, *s), enc
}

// isJSON reports whether v can be embedded in the body as it is and read
// back byte for byte. json.Valid alone is not enough: it accepts strings
// that are not UTF-8, and a receiver's decoder drops whitespace around a
// value.
func isJSON(v []byte) bool {
	return len(v) > 0 && !isSpace(v[0]) && !isSpace(v[len(v)-1]) && utf8.Valid(v) && json.Valid(v)
}

// isSpace reports whether c is whitespace to JSON.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// errInvalidValue is MarshalJSON's answer to a Value that is not UTF-8
// JSON, which NewBody never builds.
var errInvalidValue = errors.New("webhook: body value is not valid UTF-8 JSON")

// MarshalJSON writes b as Handle sends it: a JSON value is embedded byte
// for byte. (json.Marshal compacts the result, dropping the whitespace
// between a JSON value's tokens.)
func (b Body) MarshalJSON() ([]byte, error) {
	if b.Value != nil && !(utf8.Valid(b.Value) && json.Valid(b.Value)) {
		return nil, errInvalidValue
	}
	return b.appendJSON(nil), nil
}

// appendJSON writes the body by hand rather than through encoding/json,
// which compacts an embedded json.RawMessage and so would change a JSON
// value's bytes. Strings still go through encoding/json.
func (b *Body) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"topic":`...)
	dst = appendString(dst, b.Topic)
	dst = append(dst, `,"partition":`...)
	dst = strconv.AppendInt(dst, int64(b.Partition), 10)
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendInt(dst, b.Offset, 10)
	dst = append(dst, `,"timestamp":`...)
	dst = appendString(dst, b.Timestamp)
	dst = append(dst, `,"key":`...)
	dst = appendNullable(dst, b.Key)
	dst = append(dst, `,"key_encoding":`...)
	dst = appendNullable(dst, b.KeyEncoding.orNull())
	dst = append(dst, `,"headers":[`...)
	for i, h := range b.Headers {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"key":`...)
		dst = appendString(dst, h.Key)
		if h.KeyEncoding != "" {
			dst = append(dst, `,"key_encoding":`...)
			dst = appendString(dst, string(h.KeyEncoding))
		}
		dst = append(dst, `,"value":`...)
		dst = appendNullable(dst, h.Value)
		dst = append(dst, `,"value_encoding":`...)
		dst = appendNullable(dst, h.ValueEncoding.orNull())
		dst = append(dst, '}')
	}
	dst = append(dst, `],"value":`...)
	if b.Value == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, b.Value...)
	}
	dst = append(dst, `,"value_encoding":`...)
	dst = appendNullable(dst, b.ValueEncoding.orNull())
	return append(dst, '}')
}

// orNull is nil for no encoding, which is written as null.
func (e Encoding) orNull() *string {
	if e == "" {
		return nil
	}
	s := string(e)
	return &s
}

func appendNullable(dst []byte, s *string) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	return appendString(dst, *s)
}

// appendString appends s as a JSON string. encoding/json replaces bytes
// that are not UTF-8, so even a string that bypassed NewBody cannot make
// the body invalid.
func appendString(dst []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(dst, q...)
}
