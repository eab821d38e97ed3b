// Package streamclient is the Go client of kafkakit's POST /kafka/stream:
// [Open] starts a stream of NDJSON send bodies, [Stream.Send] writes one
// line, and [Stream.Results] yields one answer per line, in order, as the
// server writes them.
package streamclient
