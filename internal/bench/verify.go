package bench

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Verify reads topic from the start to its current end and returns how
// many acknowledged messages (acked[i], value starting "i ") it lacks. It
// reads committed records only, and sees transaction markers, so that a
// partition whose last offset is a commit marker (atomic batches) ends.
func Verify(ctx context.Context, cfg config.Kafka, topic string, acked []bool) (missing int, err error) {
	cl, err := RawClient(quietConfig(cfg), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	present := make([]bool, len(acked))
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	for len(remaining) > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("verify: read %s: %w", topic, err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if sp := bytes.IndexByte(r.Value, ' '); sp > 0 && !r.Attrs.IsControl() {
				if i, err := strconv.Atoi(string(r.Value[:sp])); err == nil && i >= 0 && i < len(present) {
					present[i] = true
				}
			}
			if r.Offset+1 >= remaining[r.Partition] {
				delete(remaining, r.Partition)
			}
		})
	}
	for i, a := range acked {
		if a && !present[i] {
			missing++
		}
	}
	return missing, nil
}
