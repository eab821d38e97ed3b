package producer

import "github.com/twmb/franz-go/pkg/kgo"

// Partitioner returns the partitioner a Producer uses: a message with an
// explicit partition goes there; any other is placed by franz-go's default,
// which hashes keys with murmur2 exactly as the Java client does (so keyed
// records land where Java producers would put them) and spreads unkeyed
// records in sticky batches.
//
// It relies on the record's Partition field being -1 unless the sender
// chose one, which is how [Producer] builds records.
func Partitioner() kgo.Partitioner {
	return explicitPartitioner{kgo.UniformBytesPartitioner(64<<10, true, true, nil)}
}

type explicitPartitioner struct{ fallback kgo.Partitioner }

func (p explicitPartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	// franz-go's default partitioner places unkeyed records by how backed
	// up each partition is; keeping that interface keeps its heuristics.
	return &explicitTopicPartitioner{p.fallback.ForTopic(topic).(kgo.TopicBackupPartitioner)}
}

type explicitTopicPartitioner struct{ fallback kgo.TopicBackupPartitioner }

var _ kgo.TopicBackupPartitioner = (*explicitTopicPartitioner)(nil)

func (p *explicitTopicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	// An explicit partition must not be remapped onto the partitions that
	// happen to be writable.
	return r.Partition >= 0 || p.fallback.RequiresConsistency(r)
}

func (p *explicitTopicPartitioner) Partition(r *kgo.Record, n int) int {
	if r.Partition >= 0 {
		return explicit(r, n)
	}
	return p.fallback.Partition(r, n)
}

func (p *explicitTopicPartitioner) PartitionByBackup(r *kgo.Record, n int, backup kgo.TopicBackupIter) int {
	if r.Partition >= 0 {
		return explicit(r, n)
	}
	return p.fallback.PartitionByBackup(r, n, backup)
}

// explicit returns the record's own partition. One the topic does not have
// is still returned, for the client to refuse, and noted on the record's
// state so that the send fails with an *InvalidPartitionError.
func explicit(r *kgo.Record, n int) int {
	if int(r.Partition) >= n {
		if o := outgoingOf(r); o != nil {
			o.partitions = int32(n)
		}
	}
	return int(r.Partition)
}
