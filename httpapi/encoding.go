package httpapi

import (
	"bytes"
	"encoding/base64"
	"slices"
	"strconv"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/valyala/fastjson"
)

// encoding is how a key, value or header value in a request becomes a
// record's bytes, named by its key_encoding or value_encoding member.
type encoding uint8

const (
	// encAuto is the encoding when none is named: a JSON string is sent
	// as its text, other JSON as compact JSON text (keys: strings only).
	encAuto encoding = iota
	// encString requires a JSON string and sends its UTF-8 text.
	encString
	// encJSON sends the JSON value itself as compact JSON text, so the
	// string "a" is sent as the three bytes "a" with its quotes.
	encJSON
	// encBase64 requires a JSON string of standard base64 and sends the
	// bytes it decodes to.
	encBase64
)

func (e encoding) String() string {
	return [...]string{"", apicontract.EncodingString, apicontract.EncodingJSON, apicontract.EncodingBase64}[e]
}

// encodingNames lists the encodings a request may name, for its errors.
var encodingNames = strconv.Quote(apicontract.EncodingString) + ", " + strconv.Quote(apicontract.EncodingJSON) +
	" or " + strconv.Quote(apicontract.EncodingBase64)

// parseEncoding reads a key_encoding or value_encoding member; null or
// absence is encAuto.
func parseEncoding(v *fastjson.Value, field string) (encoding, *apicontract.Error) {
	if isNull(v) {
		return encAuto, nil
	}
	b, err := v.StringBytes()
	if err != nil {
		return 0, invalid(field, "must be %s", encodingNames)
	}
	switch string(b) {
	case apicontract.EncodingString:
		return encString, nil
	case apicontract.EncodingJSON:
		return encJSON, nil
	case apicontract.EncodingBase64:
		return encBase64, nil
	}
	return 0, invalid(field, "unknown encoding %s; use %s", strconv.Quote(snippet(b)), encodingNames)
}

// data turns a key, value or header value into record bytes under enc.
// null, or absence, is a null in every encoding. With encAuto, a key must
// be a string (stringsOnly) while a value's other JSON is sent compact.
// field names the member, encField its encoding's member.
func (r *request) data(v *fastjson.Value, enc encoding, field, encField string, stringsOnly bool) ([]byte, *apicontract.Error) {
	if isNull(v) {
		return nil, nil
	}
	isString := v.Type() == fastjson.TypeString
	switch {
	case isString && (enc == encAuto || enc == encString):
		b, _ := v.StringBytes()
		return r.keep(b), nil
	case enc == encJSON || enc == encAuto && !stringsOnly:
		start := len(r.arena)
		r.arena = appendCompact(r.arena, v)
		return r.arena[start:len(r.arena):len(r.arena)], nil
	case enc == encAuto:
		return nil, invalid(field, "must be a string or null; set %s to %q to send other JSON, or %q for bytes", encField, apicontract.EncodingJSON, apicontract.EncodingBase64)
	case !isString:
		return nil, invalid(field, "must be a JSON string when %s is %q", encField, enc)
	}
	b, _ := v.StringBytes()
	return r.base64(b, field)
}

// base64 decodes standard base64 (RFC 4648 section 4), padded or not,
// into the arena. The URL alphabet and line breaks are refused rather
// than guessed at: each would make two spellings of the same bytes, and
// Go's decoder would skip line breaks silently.
func (r *request) base64(s []byte, field string) ([]byte, *apicontract.Error) {
	if i := bytes.IndexAny(s, "-_"); i >= 0 {
		return nil, invalid(field, "is not standard base64: %q at offset %d belongs to the URL alphabet; use + and / instead of - and _", s[i], i)
	}
	if i := bytes.IndexAny(s, "\r\n"); i >= 0 {
		return nil, invalid(field, "is not base64: a line break at offset %d", i)
	}
	enc := base64.StdEncoding.Strict()
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding.Strict()
	}
	start := len(r.arena)
	r.arena = slices.Grow(r.arena, enc.DecodedLen(len(s)))
	n, err := enc.Decode(r.arena[start:start+enc.DecodedLen(len(s))], s)
	if err != nil {
		return nil, invalid(field, "is not valid base64 (standard alphabet, padding optional): %v", err)
	}
	r.arena = r.arena[:start+n]
	return r.arena[start : start+n : start+n], nil
}

// appendCompact appends v as compact JSON. fastjson's own MarshalTo is
// not used for strings: it quotes them with strconv, whose \x00 and \v
// escapes are not JSON.
func appendCompact(dst []byte, v *fastjson.Value) []byte {
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return appendString(dst, b)
	case fastjson.TypeObject:
		o, _ := v.Object()
		dst = append(dst, '{')
		first := true
		o.Visit(func(name []byte, m *fastjson.Value) {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(appendString(dst, name), ':')
			dst = appendCompact(dst, m)
		})
		return append(dst, '}')
	case fastjson.TypeArray:
		items, _ := v.Array()
		dst = append(dst, '[')
		for i, it := range items {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendCompact(dst, it)
		}
		return append(dst, ']')
	}
	return v.MarshalTo(dst) // a number keeps its text; true, false, null
}

// appendString appends s, valid UTF-8, as a JSON string escaping only
// what JSON requires, so that the text is kept as sent.
func appendString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// maxTimestamp is 9999-12-31T23:59:59.999Z in epoch milliseconds, the
// last instant RFC 3339 can write.
const maxTimestamp = 253402300799999

// decodeTimestamp reads an RFC 3339 string or a whole number of epoch
// milliseconds. Kafka keeps milliseconds: finer digits are dropped.
func decodeTimestamp(v *fastjson.Value) (time.Time, *apicontract.Error) {
	if isNull(v) {
		return time.Time{}, nil
	}
	const want = "must be an RFC 3339 time (2024-05-01T12:00:00.000Z) or whole epoch milliseconds from 0 to 253402300799999"
	var ms int64
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		t, err := time.Parse(time.RFC3339Nano, string(b))
		if err != nil {
			return time.Time{}, invalid("timestamp", "%s, not %s", want, strconv.Quote(snippet(b)))
		}
		ms = t.UnixMilli()
	case fastjson.TypeNumber:
		raw := v.MarshalTo(nil)
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return time.Time{}, invalid("timestamp", "%s, not %s", want, snippet(raw))
		}
		ms = n
	default:
		return time.Time{}, invalid("timestamp", "%s", want)
	}
	if ms < 0 || ms > maxTimestamp {
		return time.Time{}, invalid("timestamp", "%s; this one is out of range", want)
	}
	return time.UnixMilli(ms), nil
}
