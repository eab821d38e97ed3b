package httpapi

import (
	"bytes"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/valyala/fastjson"
)

// Requests are checked by scanner, then parsed with fastjson: one strict
// pass, then one parse, instead of encoding/json's reflection over every
// field, which cost more than everything else a send does. BenchmarkDecode
// (2 shared cores under load, best of 3): encoding/json into a struct
// takes 4.65µs for a 330-byte send body and 538µs for a batch of 100,
// scanner and fastjson 0.95µs and 115µs (4.7 to 4.9 times less).
// encoding/json stays for what is off this path: writing errors and
// answers (apicontract, appendFailed), unquoting the string a refusal
// names, and reading a 503 back in the Idempotency-Key middleware.
//
// Decoded keys, values and headers are copied into one arena per request,
// sized by the body, since unescaped and compacted JSON is never longer
// than its source.
var parsers fastjson.ParserPool

// request is a parsed body, valid until release.
type request struct {
	parser *fastjson.Parser
	root   *fastjson.Value
	arena  []byte
	// topic is the last topic decoded: the messages of a batch mostly
	// share theirs, which is then checked and copied once.
	topic string
}

// parse checks body is exactly one JSON object, nested at most MaxDepth
// deep, whose strings are all valid UTF-8 text, and parses it.
func parse(body []byte) (*request, *apicontract.Error) { return parseInto(body, nil) }

// parseInto is parse with the decoded bytes kept in arena, which has room
// for len(body) bytes, or in a new one if arena is nil.
func parseInto(body, arena []byte) (*request, *apicontract.Error) {
	s := scanner{b: body}
	if s.skipSpace(); s.i == len(body) {
		return nil, invalid("", "the request body is empty; send a JSON object")
	}
	if err := s.scan(); err != nil {
		return nil, err.apiError(body)
	}
	trimmed := bytes.TrimSpace(body)
	if trimmed[0] != '{' {
		return nil, invalid("", "the request body must be a JSON object")
	}
	p := parsers.Get()
	root, err := p.ParseBytes(trimmed)
	if err != nil { // checked above; kept for safety
		parsers.Put(p)
		return nil, invalid("", "the request body is not valid JSON")
	}
	if arena == nil {
		arena = make([]byte, 0, len(trimmed))
	}
	return &request{parser: p, root: root, arena: arena}, nil
}

// apiError turns a scanner's refusal into the API's: a string that is not
// text names its field, anything else is a syntax error at an offset.
func (e *scanError) apiError(body []byte) *apicontract.Error {
	where := " (the string at byte " + strconv.Itoa(e.offset) + ")"
	switch {
	case !e.text:
		return invalid("", "the request body is not valid JSON: %s at byte %d", e.message, e.offset)
	case e.isKey:
		return invalid(fieldAt(body, e.offset), "has a member name that %s%s", e.message, where)
	default:
		return invalid(fieldAt(body, e.offset), "%s%s", e.message, where)
	}
}

func (r *request) release() { parsers.Put(r.parser) }

// keep copies b into the request's arena.
func (r *request) keep(b []byte) []byte {
	start := len(r.arena)
	r.arena = append(r.arena, b...)
	return r.arena[start:len(r.arena):len(r.arena)]
}

func isNull(v *fastjson.Value) bool { return v == nil || v.Type() == fastjson.TypeNull }

// message validates one send request object and builds its message. Field
// names in errors are relative to the object.
func (r *request) message(v *fastjson.Value) (producer.Message, *apicontract.Error) {
	var msg producer.Message
	o, err := v.Object()
	if err != nil {
		return msg, invalid("", "must be a JSON object")
	}
	// The last of repeated members wins, as in encoding/json.
	var topic, key, value, headers, partition, keyEnc, valueEnc, timestamp *fastjson.Value
	var unknown string
	o.Visit(func(name []byte, v *fastjson.Value) {
		switch string(name) {
		case "topic":
			topic = v
		case "key":
			key = v
		case "value":
			value = v
		case "headers":
			headers = v
		case "partition":
			partition = v
		case "key_encoding":
			keyEnc = v
		case "value_encoding":
			valueEnc = v
		case "timestamp":
			timestamp = v
		default:
			if unknown == "" {
				unknown = string(name)
			}
		}
	})
	if unknown != "" {
		return msg, unknownField(unknown)
	}
	var apiErr *apicontract.Error
	if msg.Topic, apiErr = r.decodeTopic(topic); apiErr != nil {
		return msg, apiErr
	}
	if msg.Key, apiErr = r.encoded(key, keyEnc, "key", "key_encoding", true); apiErr != nil {
		return msg, apiErr
	}
	if msg.Value, apiErr = r.encoded(value, valueEnc, "value", "value_encoding", false); apiErr != nil {
		return msg, apiErr
	}
	if msg.Headers, apiErr = r.decodeHeaders(headers); apiErr != nil {
		return msg, apiErr
	}
	if msg.Partition, apiErr = decodePartition(partition); apiErr != nil {
		return msg, apiErr
	}
	if msg.Timestamp, apiErr = decodeTimestamp(timestamp); apiErr != nil {
		return msg, apiErr
	}
	return msg, nil
}

// encoded decodes a key, value or header value with its encoding member.
func (r *request) encoded(v, enc *fastjson.Value, field, encField string, stringsOnly bool) ([]byte, *apicontract.Error) {
	e, apiErr := parseEncoding(enc, encField)
	if apiErr != nil {
		return nil, apiErr
	}
	return r.data(v, e, field, encField, stringsOnly)
}

// messages validates a send-batch body: {"messages": [1 to max objects],
// "atomic": false}, and reports whether it asks for an atomic batch.
func (r *request) messages(max int) ([]producer.Message, bool, *apicontract.Error) {
	o, _ := r.root.Object() // parse made sure of it
	var list, atomic *fastjson.Value
	var unknown string
	o.Visit(func(name []byte, v *fastjson.Value) {
		switch {
		case string(name) == "messages":
			list = v
		case string(name) == "atomic":
			atomic = v
		case unknown == "":
			unknown = string(name)
		}
	})
	switch {
	case unknown != "":
		return nil, false, unknownField(unknown)
	case isNull(list):
		return nil, false, invalid("messages", "is required")
	case !isNull(atomic) && atomic.Type() != fastjson.TypeTrue && atomic.Type() != fastjson.TypeFalse:
		return nil, false, invalid("atomic", "must be true or false")
	}
	isAtomic := atomic != nil && atomic.Type() == fastjson.TypeTrue
	items, err := list.Array()
	switch {
	case err != nil:
		return nil, false, invalid("messages", "must be an array of messages")
	case len(items) == 0:
		return nil, false, invalid("messages", "must hold at least one message")
	case len(items) > max:
		return nil, false, invalid("messages", "holds %d messages; the limit is %d", len(items), max)
	}
	msgs := make([]producer.Message, len(items))
	for i, item := range items {
		msg, apiErr := r.message(item)
		if apiErr != nil {
			return nil, false, apiErr.WithField("messages[" + strconv.Itoa(i) + "]")
		}
		msgs[i] = msg
	}
	return msgs, isAtomic, nil
}

func (r *request) decodeTopic(v *fastjson.Value) (string, *apicontract.Error) {
	if isNull(v) {
		return "", invalid("topic", "is required")
	}
	b, err := v.StringBytes()
	if err != nil {
		return "", invalid("topic", "must be a string")
	}
	if string(b) == r.topic && r.topic != "" {
		return r.topic, nil
	}
	if err := config.ValidateTopic(string(b)); err != nil {
		return "", invalid("topic", "%s", err)
	}
	r.topic = string(b)
	return r.topic, nil
}

// decodeHeaders reads headers in either form: an object of strings, in
// the order of its keys, or an array of {"key","value","value_encoding"}
// objects, which can repeat a key, hold a null value or bytes.
func (r *request) decodeHeaders(v *fastjson.Value) ([]producer.Header, *apicontract.Error) {
	if isNull(v) {
		return nil, nil
	}
	if v.Type() == fastjson.TypeArray {
		return r.headerList(v)
	}
	o, err := v.Object()
	if err != nil {
		return nil, invalid("headers", `must be an object of strings or an array of {"key","value","value_encoding"} objects`)
	}
	headers := make([]producer.Header, 0, o.Len())
	var bad string
	o.Visit(func(key []byte, hv *fastjson.Value) {
		b, err := hv.StringBytes()
		if err != nil {
			if bad == "" {
				bad = string(key)
			}
			return
		}
		headers = append(headers, producer.Header{Key: string(key), Value: r.keep(b)})
	})
	if bad != "" {
		return nil, invalid("headers."+bad, "must be a string (the array form of headers takes null, JSON and base64 values)")
	}
	return headers, nil
}

func (r *request) headerList(v *fastjson.Value) ([]producer.Header, *apicontract.Error) {
	items, _ := v.Array()
	headers := make([]producer.Header, len(items))
	for i, item := range items {
		var apiErr *apicontract.Error
		if headers[i], apiErr = r.header(item); apiErr != nil {
			return nil, apiErr.WithField("headers[" + strconv.Itoa(i) + "]")
		}
	}
	return headers, nil
}

// header reads one {"key","value","value_encoding"} object; its value
// follows the rules of a message's value.
func (r *request) header(v *fastjson.Value) (producer.Header, *apicontract.Error) {
	o, err := v.Object()
	if err != nil {
		return producer.Header{}, invalid("", `must be an object {"key","value","value_encoding"}`)
	}
	var key, value, enc *fastjson.Value
	var unknown string
	o.Visit(func(name []byte, v *fastjson.Value) {
		switch string(name) {
		case "key":
			key = v
		case "value":
			value = v
		case "value_encoding":
			enc = v
		default:
			if unknown == "" {
				unknown = string(name)
			}
		}
	})
	switch {
	case unknown != "":
		return producer.Header{}, unknownField(unknown)
	case isNull(key):
		return producer.Header{}, invalid("key", "is required")
	case key.Type() != fastjson.TypeString:
		return producer.Header{}, invalid("key", "must be a string")
	}
	k, _ := key.StringBytes()
	b, apiErr := r.encoded(value, enc, "value", "value_encoding", false)
	return producer.Header{Key: string(k), Value: b}, apiErr
}

func decodePartition(v *fastjson.Value) (*int32, *apicontract.Error) {
	if isNull(v) {
		return nil, nil
	}
	raw := v.MarshalTo(nil)
	n, err := strconv.ParseInt(string(raw), 10, 32)
	if v.Type() != fastjson.TypeNumber || err != nil || n < 0 {
		return nil, invalid("partition", "must be a whole number from 0 to %d, not %s", math.MaxInt32, snippet(raw))
	}
	p := int32(n)
	return &p, nil
}

// snippet quotes at most the start of a raw value in an error message.
func snippet(raw []byte) string {
	const max = 40
	if len(raw) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(raw[cut]) {
			cut-- // never split a character
		}
		return string(raw[:cut]) + "..."
	}
	return string(raw)
}
