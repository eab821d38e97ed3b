// Package timefmt holds the one text form of a time that kafkakit writes:
// in webhook bodies and CloudEvents headers, in the answers of the send
// routes, in the dead-letter header kafkakit-failed-at, and where the
// admin API compares those strings.
package timefmt

// Millis is RFC 3339 with milliseconds, Kafka's precision, always three
// digits, so that times written in UTC compare as strings as they do as
// times. Readers parse it with time.RFC3339Nano, which also takes the
// other precisions clients send.
const Millis = "2006-01-02T15:04:05.000Z07:00"
