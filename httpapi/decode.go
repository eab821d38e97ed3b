package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/kafkakit/kafkakit/producer"
)

// maxTopicLen is Kafka's limit on topic names.
const maxTopicLen = 249

// sendRequest is the body of POST /kafka/send and each element of
// send-batch's messages. Every field is raw so that a wrong type is
// reported against its field rather than as a generic decoding failure.
type sendRequest struct {
	Topic     json.RawMessage `json:"topic"`
	Key       json.RawMessage `json:"key"`
	Value     json.RawMessage `json:"value"`
	Headers   json.RawMessage `json:"headers"`
	Partition json.RawMessage `json:"partition"`
}

type batchRequest struct {
	Messages json.RawMessage `json:"messages"`
}

// decodeObject decodes body, which must hold exactly one JSON object with
// no fields beyond dst's, into dst.
func decodeObject(body []byte, dst any) *Error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return invalid("", "the request body is empty; send a JSON object")
	}
	if trimmed[0] != '{' {
		if !json.Valid(trimmed) {
			return invalid("", "the request body is not valid JSON")
		}
		return invalid("", "the request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("", "the request body holds more than one JSON value")
	}
	return nil
}

// jsonError describes a decoding failure. encoding/json reports an unknown
// field only in its message text, `json: unknown field "x"`.
func jsonError(err error) *Error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("", "the request body is not valid JSON: %v", err)
	case errors.As(err, &typ):
		return invalid(typ.Field, "must be %s, not %s", jsonKind(typ.Type.Kind().String()), typ.Value)
	}
	var field string
	if _, err := fmt.Sscanf(err.Error(), "json: unknown field %q", &field); err == nil {
		return invalid(field, "unknown field %q", field)
	}
	return invalid("", "the request body is not valid JSON: %v", err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return goKind
}

// message validates a decoded send request and builds the message to
// send. Field names in errors are relative to the request object.
func (req *sendRequest) message() (producer.Message, *Error) {
	var msg producer.Message
	topic, err := decodeTopic(req.Topic)
	if err != nil {
		return msg, err
	}
	msg.Topic = topic
	if msg.Key, err = decodeKey(req.Key); err != nil {
		return msg, err
	}
	msg.Value, err = decodeValue(req.Value)
	if err != nil {
		return msg, err
	}
	if msg.Headers, err = decodeHeaders(req.Headers); err != nil {
		return msg, err
	}
	if msg.Partition, err = decodePartition(req.Partition); err != nil {
		return msg, err
	}
	return msg, nil
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

func decodeTopic(raw json.RawMessage) (string, *Error) {
	if isNull(raw) {
		return "", invalid("topic", "is required")
	}
	var topic string
	if json.Unmarshal(raw, &topic) != nil {
		return "", invalid("topic", "must be a string")
	}
	if err := ValidateTopic(topic); err != nil {
		return "", invalid("topic", "%s", err)
	}
	return topic, nil
}

// ValidateTopic checks a topic name against Kafka's rules: 1 to 249 of the
// characters a-z, A-Z, 0-9, '.', '_' and '-', and neither "." nor "..".
func ValidateTopic(topic string) error {
	switch {
	case topic == "":
		return errors.New("must not be empty")
	case len(topic) > maxTopicLen:
		return fmt.Errorf("is %d characters long; the limit is %d", len(topic), maxTopicLen)
	case topic == "." || topic == "..":
		return fmt.Errorf("must not be %q", topic)
	}
	for i, r := range topic {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("has %q at position %d; only letters, digits, '.', '_' and '-' are allowed", r, i)
		}
	}
	return nil
}

func decodeKey(raw json.RawMessage) ([]byte, *Error) {
	if isNull(raw) {
		return nil, nil
	}
	var key string
	if json.Unmarshal(raw, &key) != nil {
		return nil, invalid("key", "must be a string or null")
	}
	return []byte(key), nil
}

// decodeValue applies the value rules: a JSON string is sent as its text,
// null or absence as a null value, anything else as compact JSON.
func decodeValue(raw json.RawMessage) ([]byte, *Error) {
	if isNull(raw) {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, invalid("value", "is not a valid JSON string")
		}
		return []byte(s), nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, invalid("value", "is not valid JSON")
	}
	return buf.Bytes(), nil
}

// decodeHeaders reads a JSON object of strings, keeping the order of its
// keys, since Kafka headers are ordered.
func decodeHeaders(raw json.RawMessage) ([]producer.Header, *Error) {
	if isNull(raw) {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, invalid("headers", "must be an object of strings")
	}
	var headers []producer.Header
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalid("headers", "must be an object of strings")
		}
		name := tok.(string) // object keys are always strings
		tok, err = dec.Token()
		value, ok := tok.(string)
		if err != nil || !ok {
			return nil, invalid("headers."+name, "must be a string")
		}
		headers = append(headers, producer.Header{Key: name, Value: []byte(value)})
	}
	return headers, nil
}

func decodePartition(raw json.RawMessage) (*int32, *Error) {
	if isNull(raw) {
		return nil, nil
	}
	n, err := strconv.ParseInt(string(raw), 10, 32)
	if err != nil || n < 0 {
		return nil, invalid("partition", "must be a whole number from 0 to %d, not %s", math.MaxInt32, snippet(raw))
	}
	p := int32(n)
	return &p, nil
}

// snippet quotes at most the start of a raw value in an error message.
func snippet(raw []byte) string {
	const max = 40
	if len(raw) > max {
		return string(raw[:max]) + "..."
	}
	return string(raw)
}
