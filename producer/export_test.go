package producer

const PartitionCacheSize = partitionCacheSize

func CachedPartitionCounts(p *Producer) int { return p.parts.Len() }
