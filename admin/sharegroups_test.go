package admin_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

// runShare runs a share consumer of group on topic whose handler accepts
// the records with values 0 to 2 and holds the others until release is
// closed, stopping it when the test ends.
func runShare(t *testing.T, c *kafkatest.Cluster, group, topic string, concurrency int, release <-chan struct{}) *consumer.ShareConsumer {
	t.Helper()
	cfg := c.Config()
	cfg.GroupID = group
	sc, err := consumer.NewShare(cfg, consumer.ShareConcurrency(concurrency), consumer.ShareFromBeginning())
	if err != nil {
		t.Fatal(err)
	}
	hold := consumer.HandlerFunc(func(ctx context.Context, msg *consumer.Message) error {
		if v := string(msg.Value); v == "0" || v == "1" || v == "2" {
			return nil
		}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	if err := sc.Subscribe(topic, hold); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		sc.Close()
	})
	return sc
}

// TestShareGroupsShowMembersLagAndInFlight: a share group whose member
// accepted the first 3 of 10 records and holds the next 3 is listed, and
// its detail shows the member and its partition, the partition's start
// (3, or before it until Apache Kafka writes the state) and lag (7), and
// the 3 records this instance is handling.
func TestShareGroupsShowMembersLagAndInFlight(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("jobs", 1), kafkatest.Topic("hidden", 1))
	for i := range 10 {
		produce(t, c, &kgo.Record{Topic: "jobs", Value: fmt.Appendf(nil, "%d", i)})
	}
	release := make(chan struct{})
	defer close(release)
	sc := runShare(t, c, "workers", "jobs", 3, release)
	srv := serve(t, c, admin.AllowedTopics("jobs"), admin.ShareInFlight(func(group string) map[string]map[int32]int {
		if group != sc.Group() {
			return nil
		}
		return sc.InFlight()
	}))
	var d admin.ShareGroupDetail
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		d = admin.ShareGroupDetail{}
		if code := get(t, srv, "/kafka/share-groups/workers", "", &d); code != 200 {
			return fmt.Errorf("status %d", code)
		}
		if d.InFlight != 3 || len(d.Partitions) != 1 || len(d.Members) != 1 || d.Partitions[0].Lag != 7 {
			return fmt.Errorf("detail %+v, want 1 member, 1 partition with lag 7, 3 in flight", d)
		}
		return nil
	})
	p := d.Partitions[0]
	if p.Topic != "jobs" || p.Partition != 0 || p.InFlight != 3 || p.StartOffset < 0 || p.StartOffset > 3 || p.Lag != 7 {
		// Apache Kafka moves the start when it writes the share
		// partition's state, which may come later.
		t.Errorf("partition %+v, want jobs/0 starting at 3 (or before, not yet moved), lag 7, 3 in flight", p)
	}
	if m := d.Members[0]; fmt.Sprint(m.Assigned) != "map[jobs:[0]]" {
		t.Errorf("member assigned %v, want jobs/0", m.Assigned)
	}
	var list struct {
		ShareGroups []admin.ShareGroup `json:"share_groups"`
	}
	if code := get(t, srv, "/kafka/share-groups", "", &list); code != 200 {
		t.Fatalf("list: status %d", code)
	}
	if len(list.ShareGroups) != 1 || list.ShareGroups[0].Name != "workers" || list.ShareGroups[0].MemberCount != 1 {
		t.Errorf("share groups %+v, want workers with 1 member", list.ShareGroups)
	}
}

// TestShareGroupsBadInput: an unknown group is 404, and a cluster without
// share groups is 501 naming what it lacks, on both routes.
func TestShareGroupsBadInput(t *testing.T) {
	c := kafkatest.NewCluster(t)
	srv := serve(t, c)
	var e struct {
		Error struct{ Code, Message, Field string }
	}
	if code := get(t, srv, "/kafka/share-groups/nobody", "", &e); code != 404 || e.Error.Field != "group" {
		t.Errorf("unknown group: status %d %+v, want 404 naming the group", code, e)
	}
	old := kafkatest.NewCluster(t, kafkatest.KfakeOpts(kfake.MaxVersions(kversion.V3_9_0())))
	srv = serve(t, old)
	for _, path := range []string{"/kafka/share-groups", "/kafka/share-groups/workers"} {
		e.Error.Code, e.Error.Message = "", ""
		if code := get(t, srv, path, "", &e); code != 501 || e.Error.Code != "share_groups_unsupported" || !strings.Contains(e.Error.Message, "ShareGroupHeartbeat") {
			t.Errorf("GET %s on Kafka 3.9: status %d %+v, want 501 naming ShareGroupHeartbeat", path, code, e)
		}
	}
}
