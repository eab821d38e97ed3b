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
// offset in the subscribed topic (their origin): the first
// kafka_dlt-original-offset header of a retry record (a record carries
// those of its first failure through the whole path, as in Spring's retry
// topics; a retry record Spring wrote has them as kafka_original-offset,
// read when there is no kafka_dlt-original-topic). For each partition
// number p, the member keeps the parked keys: per key, its records' copies
// in the retry path (origin, the delay whose retry topic holds the copy,
// and its offset there when that is the first retry topic), and the
// furthest copy seen beyond the first retry topic. A retry record's delay
// is that of the topic it is read from, whatever its headers say.
//
//  1. A keyed record of the subscribed topic whose key is parked is not
//     handled: it is added to its key and written to the first retry topic,
//     due at once, and committable once the write is acknowledged (see
//     "Parking writes" below). One whose offset is not above the key's
//     largest origin in the retry path went through step 1 or 2 before and
//     is delivered again (after a crash): it is committed, not written
//     again behind later records of its key, which would wait for it.
//  2. A keyed record of the subscribed topic that fails into the retry
//     topics is added to its key before it is written.
//  3. A retry record, once due, in the first retry topic waits until no
//     record of its key with a smaller origin is beyond the first retry
//     topic, or before it in the first retry topic; only its retry
//     partition waits. A record beyond the first retry topic never waits
//     for another. Handled, it leaves the key when it succeeds, is
//     skipped, recovered or dead-lettered; sent on to the next retry topic,
//     its copy moves there: the new copy is added before the write is
//     sent, and the old one leaves once the write is acknowledged. The
//     next retry topic's worker may handle the record before the
//     acknowledgement arrives (the broker appends before it answers), and
//     takes the new copy out then; added on the acknowledgement instead,
//     it would name a record already handled, and its key's later records
//     would wait for it for good. A write that fails takes the new copy
//     out and leaves the record where it was.
//  4. A retry record whose key has, or had since it was last unparked, a
//     copy further down the retry path (a later record beyond the first
//     retry topic, or the same record in a later retry topic, counted
//     once its write was acknowledged) was handled already and is
//     delivered again after a crash: it leaves the key and is committed, with no handler call and
//     no second write. A key with no copies left is unparked.
//  5. On assignment, before any record of p is handled, the parked keys of
//     p are rebuilt by reading each retry topic's partition p from the
//     group's committed offset to its end. Records past the commit may
//     already be handled; they come back (at-least-once) and leave then.
//
// Records enter the first retry topic in offset order per key, and leave
// it for the next only when no older record of their key is ahead of them
// in the path, so a record beyond the first retry topic is the oldest of
// its key: every record of its key before it was handled to its end. A
// parked record's first handler call is made from the first retry topic,
// so a failure there sends it to the second delay's topic (or, with one
// delay, past the retry topics).
//
// No key is stuck. A record waits only in step 3, in the first retry
// topic, and only for a record that does not wait (beyond the first retry
// topic) or that its partition hands out before it (before it in the same
// partition); records beyond the first retry topic wait for nothing but
// their due time, which is at most their delay (see [RetryTopics]). So
// there is no cycle of waits, and every copy the member knows of is a
// record at or after the commit of a partition it consumes, or a write in
// flight that either lands or leaves the key: each is handled, so each
// leaves. That holds because a copy is added before its record can be
// read, never after: a copy added later could name a record its worker
// had handled already, which nothing would take out. The crash points, between a write to the next retry topic or the
// dead-letter topic and the commit of where the record came from, each
// leave a copy to be delivered again:
//
//   - Written to the first retry topic (step 1 or 2), subscribed topic not
//     committed: the copy is in the rebuilt state, so the record delivered
//     again from the subscribed topic is committed by step 1, not written
//     again. If every copy was committed meanwhile, it was handled to its
//     end, and the key's later records, not committed either, come again
//     after it: handled again, in order.
//   - Sent on from retry topic i to i+1, retry topic i not committed: the
//     copy in i+1, or a later record of its key beyond the first retry
//     topic, is in the state, so step 4 commits the record delivered again
//     from i. Written again instead, it would land behind its key's later
//     records in i+1, which would wait for it for good.
//   - Dead-lettered from the last retry topic, that topic not committed:
//     if a later record of its key went beyond the first retry topic
//     since, step 4 commits it (it left as the oldest, so its dead letter
//     was written); else it is handled again and dead-lettered again.
//   - Dead-lettered or succeeded, with its key's later records handled and
//     committed while a slower commit (a retry topic's, held back behind
//     another key's waiting record) did not cover it: nothing in Kafka says
//     it was handled, so it is handled again. That is a duplicate, which
//     may come after later records of its key; no record waits for it,
//     since it is behind them.
//   - A write in flight when the member died that lands after the next
//     member rebuilt its state is not known: nothing waits for it, and it
//     is handled when it comes, possibly as a duplicate.
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
// retry topics keep the source partition and have its partition count. A
// consumer with retry topics offers the group, first, a cooperative
// assigner that gives partition number p of every topic to one member
// (protocol kafkakit-colocated), then the range assigner, which
// [RetryTopics] requires first in KAFKA_PARTITION_ASSIGNERS. When every
// member offers the first, rebalances are cooperative: a member that
// leaves or crashes costs only the partitions it held, and one that joins
// takes its share from the others without stopping them. A group with
// members that offer only range (an older release) runs range, which gives
// equal partition numbers of topics with equal partition counts to the
// same member, eagerly. With the consumer group protocol (KIP-848,
// KAFKA_GROUP_PROTOCOL=consumer) the broker assigns, with range.
//
// On shutdown and when the group takes partitions away, the consumer stops
// fetching them, lets in-flight handlers finish within the shutdown timeout,
// commits what was handled, and only then lets go.
//
// # Share groups
//
// [ShareConsumer] consumes in a share group (KIP-932, Apache Kafka 4.2
// and later) instead: the brokers lease records one by one to any number
// of members, so records of one partition are handled concurrently, in
// no order. A handler's nil accepts its record, an error releases it to
// be delivered again (counting the delivery), and the last delivery the
// group allows, or a [Permanent] error, dead-letters it; locks are
// renewed while a handler runs. [CheckShareGroups] says what a cluster
// without share groups lacks.
package consumer
