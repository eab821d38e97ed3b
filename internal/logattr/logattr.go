// Package logattr builds the slog attributes kafkakit logs with, so that
// every component spells the same thing the same way.
package logattr

import "log/slog"

// The attribute keys, lower_snake like the rest of kafkakit's logs.
const (
	KeyTopic     = "topic"
	KeyPartition = "partition"
	KeyOffset    = "offset"
	KeyKey       = "key"
	KeyGroup     = "group"
	KeyAttempt   = "attempt"
	KeyError     = "error"
	KeyComponent = "component"
)

// Topic is the topic attribute.
func Topic(t string) slog.Attr { return slog.String(KeyTopic, t) }

// Partition is the partition attribute.
func Partition(p int32) slog.Attr { return slog.Int(KeyPartition, int(p)) }

// Offset is the offset attribute.
func Offset(o int64) slog.Attr { return slog.Int64(KeyOffset, o) }

// Key is a record key attribute; a null key logs as null.
func Key(k []byte) slog.Attr {
	if k == nil {
		return slog.Any(KeyKey, nil)
	}
	return slog.String(KeyKey, string(k))
}

// Group is the consumer group attribute.
func Group(g string) slog.Attr { return slog.String(KeyGroup, g) }

// Attempt is the delivery attempt attribute, 1 for the first.
func Attempt(n int) slog.Attr { return slog.Int(KeyAttempt, n) }

// Err is the error attribute.
func Err(err error) slog.Attr { return slog.String(KeyError, err.Error()) }

// Component names the part of kafkakit that logs, attached once per logger.
func Component(name string) slog.Attr { return slog.String(KeyComponent, name) }
