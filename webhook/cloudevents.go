package webhook

import (
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/internal/timefmt"
)

// Format is how a message is put into a request.
type Format string

const (
	// FormatKafkakit is the JSON [Body], the default.
	FormatKafkakit Format = "kafkakit"
	// FormatCloudEvents is a CloudEvents 1.0 HTTP binary-mode request:
	// the event's attributes in ce-* headers, the record's value as the
	// body.
	FormatCloudEvents Format = "cloudevents"
)

// ParseFormat reads a format name: "kafkakit" or "cloudevents".
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case FormatKafkakit, FormatCloudEvents:
		return f, nil
	}
	return "", fmt.Errorf("webhook: format %q is not kafkakit or cloudevents", s)
}

// CloudEventType is the ce-type of a record that was not written as a
// CloudEvent.
const CloudEventType = "kafkakit.record"

// The Kafka protocol binding's names: attributes are headers prefixed
// "ce_", datacontenttype is "content-type".
const (
	kafkaAttrPrefix  = "ce_"
	kafkaContentType = "content-type"
	httpAttrPrefix   = "ce-"
)

// cloudEventHeaders sets the ce-* headers and Content-Type of msg as a
// binary-mode CloudEvent. A record written in the Kafka binding's binary
// mode (it has ce_specversion) keeps its attributes; any other record
// becomes an event of type [CloudEventType] from kafka://<topic>, with the
// record's timestamp. Either way the key, when UTF-8, is the partitionkey
// extension unless the record names one itself, as the Kafka binding maps
// partitionkey to the key.
func cloudEventHeaders(h http.Header, msg *consumer.Message, id string) {
	if _, ok := msg.Header(kafkaAttrPrefix + "specversion"); ok {
		for _, rh := range msg.Headers {
			name, ok := strings.CutPrefix(rh.Key, kafkaAttrPrefix)
			if ok && rh.Value != nil && isAttributeName(name) {
				h.Set(httpAttrPrefix+name, percentEncode(rh.Value))
			}
		}
	} else {
		h.Set("ce-specversion", "1.0")
		h.Set("ce-time", msg.Timestamp.UTC().Format(timefmt.Millis))
	}
	// The attributes every event must have, for a binding record that
	// lacks them too.
	setDefault(h, "ce-id", id)
	setDefault(h, "ce-source", "kafka://"+msg.Topic)
	setDefault(h, "ce-type", CloudEventType)
	if msg.Key != nil && utf8.Valid(msg.Key) {
		setDefault(h, "ce-partitionkey", percentEncode(msg.Key))
	}
	if ct, ok := msg.Header(kafkaContentType); ok && ct != nil {
		h.Set("Content-Type", percentEncode(ct))
	}
}

func setDefault(h http.Header, name, value string) {
	if h.Get(name) == "" {
		h.Set(name, value)
	}
}

// isAttributeName reports whether s is a CloudEvents attribute name: lower
// case ASCII letters and digits. A ce_ header with any other name is not
// an attribute and is left out.
func isAttributeName(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// percentEncode writes an attribute value as the CloudEvents HTTP binding
// wants it in a header: space, '"', '%' and every byte outside printable
// ASCII percent-encoded, the rest as it is. A value in printable ASCII
// without those three is unchanged.
func percentEncode(v []byte) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(v))
	for _, c := range v {
		if c <= ' ' || c >= 0x7f || c == '"' || c == '%' {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
