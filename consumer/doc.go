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
// held back by it; later records of its own key wait for it (key parking).
//
// # Key parking
//
// While a record with key K (not null) is in the retry path of a
// subscription (the partitions with its number in the retry topics), no
// later record of K is handled before it. Records are known by their
// offset in the subscribed topic: the first kafka_dlt-original-offset
// header of a retry record. For each partition number p, the member keeps
// the parked keys: per key, the offsets of its records in the retry path.
//
//  1. A keyed record of the subscribed topic whose key is parked is not
//     handled: it is added to its key and written to the first retry topic,
//     due at once, and committable once the write is acknowledged (see
//     "Parking writes" below). One whose offset is not above the key's
//     largest offset in the retry path went through step 1 or 2 before and
//     is delivered again (after a crash): it is committed, not written
//     again behind later records of its key, which would wait for it.
//  2. A keyed record of the subscribed topic that fails into the retry
//     topics is added to its key before it is written.
//  3. A retry record, once due, waits until no record of its key with a
//     smaller offset is in the retry path; only its retry partition waits.
//     Handled, it leaves the key when it succeeds, is skipped, recovered or
//     dead-lettered; sent on to the next retry topic, it stays. A key with
//     no offsets left is unparked.
//  4. On assignment, before any record of p is handled, the parked keys of
//     p are rebuilt by reading each retry topic's partition p from the
//     group's committed offset to its end. Records past the commit may
//     already be handled; they come back (at-least-once) and leave then.
//
// Records enter the first retry topic in offset order per key, and leave a
// retry topic for the next only when they are the oldest of their key, so
// every record beyond the first retry topic is the oldest of its key: a
// waiting record never waits for one that waits, and nothing deadlocks. A
// parked record's first handler call is made from the first retry topic,
// so a failure there sends it to the second delay's topic (or, with one
// delay, past the retry topics).
//
// Parking writes. The partition does not wait for step 1's writes: they
// go out in the background while later records are handled, under these
// rules.
//
//   - One key's writes go one at a time, in offset order: the next is sent
//     only once the previous one is acknowledged. A failed write is
//     retried, with the subscription's backoff, before any later write of
//     its key, so a key's records land in the retry partition in offset
//     order, and no record waits in step 3 for one behind it.
//   - The commit of the subscribed partition never passes a parked record
//     whose write is not acknowledged: with one worker it stays at the
//     first such record (records after it are handled but not committed
//     until then); with [KeyConcurrency], the record stays unfinished in
//     the commit tracker until then, while its key's next records go on
//     (parked, they queue behind its write).
//   - Records whose writes are in flight are bounded in bytes by
//     [MaxQueuedBytes]; past that, the partition waits.
//   - On shutdown and revoke, writes in flight are awaited within the
//     shutdown timeout; writes not sent yet (waiting for a retry, or
//     behind another write of their key) are not sent. A record whose
//     write was given up or not acknowledged in time leaves its key and
//     stays uncommitted, so it is delivered again, to whichever member
//     owns the partition next. No acknowledgement arriving after the
//     worker stopped marks anything.
//
// The state lives in Kafka only, and rests on one rule: partition p of the
// subscribed topic and of each retry topic belong to the same member. The
// retry topics keep the source partition and have its partition count, and
// the range assigner, which [RetryTopics] requires first in
// KAFKA_PARTITION_ASSIGNERS, gives equal partition numbers of topics with
// equal partition counts to the same member when every member subscribes
// to them all.
//
// On shutdown and when the group takes partitions away, the consumer stops
// fetching them, lets in-flight handlers finish within the shutdown timeout,
// commits what was handled, and only then lets go.
package consumer
