package kafkatest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ShareGroupLimits makes share group group deliver a record at most
// deliveries times and hold a delivered record's lock for lock, failing
// the test if the cluster refuses. On Apache Kafka it sets the group's
// share.delivery.count.limit and share.record.lock.duration.ms, which
// the brokers bound (2 to 10 deliveries, a lock of 15s to 60s by
// default); kfake reads only its brokers' group.share.* defaults, so
// there those are set, for every group of the cluster.
func (c *Cluster) ShareGroupLimits(t testing.TB, group string, deliveries int, lock time.Duration) {
	t.Helper()
	typ, name := kmsg.ConfigResourceTypeGroupConfig, group
	configs := map[string]string{
		"share.delivery.count.limit":    strconv.Itoa(deliveries),
		"share.record.lock.duration.ms": strconv.FormatInt(lock.Milliseconds(), 10),
	}
	if !c.external {
		typ, name = kmsg.ConfigResourceTypeBroker, ""
		brokers := map[string]string{}
		for k, v := range configs {
			brokers["group."+k] = v
		}
		configs = brokers
		// kfake looks for expired locks every 5s by default.
		configs["share.record.lock.sweep.interval.ms"] = strconv.FormatInt(max(lock.Milliseconds()/10, 10), 10)
	}
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = typ, name
	for k, v := range configs {
		rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		rc.Name, rc.Op, rc.Value = k, kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr(v)
		res.Configs = append(res.Configs, rc)
	}
	req.Resources = append(req.Resources, res)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, c.Client(t))
	if err == nil && len(resp.Resources) > 0 {
		err = kerr.ErrorForCode(resp.Resources[0].ErrorCode)
	}
	if err != nil {
		t.Fatalf("kafkatest: share group %q limits: %v", group, err)
	}
}
