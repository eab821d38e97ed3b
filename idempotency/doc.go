// Package idempotency remembers the answers to HTTP requests that carry
// an Idempotency-Key (draft-ietf-httpapi-idempotency-key-header), in a
// compacted Kafka topic that every instance of the service reads, so that
// a repeat of a request gets the first answer on any instance and after
// any restart. [Store] describes the protocol; httpapi's Idempotency
// option puts a Store in front of the send routes.
package idempotency
