// Package producer sends messages to Kafka: synchronously with [Producer.Send]
// and [Producer.SendBatch], which return where each message landed, or
// asynchronously with [Producer.SendAsync] and a completion callback.
//
// A Producer is built from a [config.Kafka] and owns a franz-go client.
// With the default acks=all it produces idempotently, so that the client's
// own retries neither duplicate nor reorder records.
package producer
