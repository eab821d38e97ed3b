package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/kafkakit/kafkakit/consumer"
)

// The Standard Webhooks 1.0 headers of a signed call.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// secretPrefix marks a Standard Webhooks symmetric secret.
const secretPrefix = "whsec_"

// The key sizes Standard Webhooks allows: at least 24 random bytes, at
// most 64.
const (
	minSecretBytes = 24
	maxSecretBytes = 64
)

// redacted is what a secret prints as.
const redacted = "[REDACTED]"

// Secret is a Standard Webhooks signing key. It never shows itself: not
// through fmt, slog or encoding/json. The zero Secret signs nothing.
type Secret struct{ key []byte }

// ParseSecret reads a secret as Standard Webhooks serialises it: "whsec_"
// and the key in standard base64. The error never holds the secret.
func ParseSecret(s string) (Secret, error) {
	enc, ok := strings.CutPrefix(strings.TrimSpace(s), secretPrefix)
	if !ok {
		return Secret{}, errors.New("webhook: the signing secret does not start with whsec_")
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return Secret{}, fmt.Errorf("webhook: the signing secret after whsec_ is not standard base64: %w", err)
	}
	if len(key) < minSecretBytes || len(key) > maxSecretBytes {
		return Secret{}, fmt.Errorf("webhook: the signing secret is %d bytes once decoded; Standard Webhooks wants %d to %d",
			len(key), minSecretBytes, maxSecretBytes)
	}
	return Secret{key: key}, nil
}

// String returns a placeholder, or "" for the zero Secret.
func (s Secret) String() string {
	if s.key == nil {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the key.
func (s Secret) GoString() string { return `webhook.Secret("` + s.String() + `")` }

// Format keeps every fmt verb, %x and %d included, from printing the key.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// LogValue keeps slog from printing the key.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText keeps encoding/json and friends from printing the key.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// sign is the webhook-signature value for one call: "v1," and the base64
// HMAC-SHA256 of "id.timestamp.body".
func (s Secret) sign(id string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, timestamp, 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// messageID names one record for one consumer group, the same on every
// attempt and after a restart, so that a receiver can drop a redelivery:
// "msg_" and 32 base64url characters of a SHA-256 of the group, topic,
// partition and offset. A hash rather than the names themselves because
// Standard Webhooks forbids "." in an id, which topic names may hold.
func messageID(group string, msg *consumer.Message) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%d:%s%s/%d/%d", len(group), group, msg.Topic, msg.Partition, msg.Offset))
	return "msg_" + base64.RawURLEncoding.EncodeToString(sum[:24])
}
