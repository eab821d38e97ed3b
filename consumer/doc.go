// Package consumer reads Kafka topics in a consumer group and hands each
// message to a [Handler], with at-least-once delivery: an offset is
// committed only after its message was handled or dead-lettered, never past
// a message that was not.
//
// Messages of one partition are handled one at a time, in order, by default;
// [KeyConcurrency] handles them concurrently while keeping the order per key.
// A handler that returns an error or panics is retried with jittered
// exponential backoff; after the last attempt the message goes to the
// subscription's dead-letter topic, with the headers Spring for Apache
// Kafka's DeadLetterPublishingRecoverer writes, and the partition moves on.
// Return [Permanent](err) to skip the retries; with dead letters off, such a
// message is logged with its record and skipped. That is the default
// [FailurePolicy]; [Failures] sets another, composed of [RetryInPlace],
// [DeadLetterTo], [SkipAndLog] and recoverers of your own ([Recover]).
// [RetryTopics] retries without holding the partition back: the failed
// message goes to a retry topic per delay, with Spring's retry headers,
// and is handled again from there once due. Records of other keys are not
// held back by it, but neither are later records of its own key: the
// retry topics do not keep the order of a key.
//
// On shutdown and when the group takes partitions away, the consumer stops
// fetching them, lets in-flight handlers finish within the shutdown timeout,
// commits what was handled, and only then lets go.
package consumer
