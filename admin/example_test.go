package admin_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"

	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func ExampleNew() {
	cluster, err := kafkatest.Start(kafkatest.Topic("orders", 3))
	if err != nil {
		panic(err)
	}
	defer cluster.Close()
	cfg := cluster.Config()
	opts, err := cfg.Opts()
	if err != nil {
		panic(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		panic(err)
	}
	defer cl.Close()

	srv := httptest.NewServer(admin.New(cfg, cl))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/kafka/topics")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(string(body))
	// Output:
	// {"topics":[{"name":"orders","partitions":3,"messages":0}]}
}

// A reset's dry run says, per partition, where a stopped group is, where
// it would go, and how many records it would skip or read again.
func Example_resetDryRun() {
	cluster, err := kafkatest.Start(kafkatest.Topic("payments", 1))
	if err != nil {
		panic(err)
	}
	defer cluster.Close()
	cfg := cluster.Config()
	opts, err := cfg.Opts()
	if err != nil {
		panic(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		panic(err)
	}
	defer cl.Close()
	ctx := context.Background()
	for _, v := range []string{"a", "b", "c"} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "payments", Value: []byte(v)}).FirstErr(); err != nil {
			panic(err)
		}
	}
	// The group "billing" read all three, committed, and stopped.
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: "payments", Partition: 0, At: 3, LeaderEpoch: -1})
	if err := kadm.NewClient(cl).CommitAllOffsets(ctx, "billing", offsets); err != nil {
		panic(err)
	}

	srv := httptest.NewServer(admin.New(cfg, cl))
	defer srv.Close()
	resp, err := srv.Client().Post(srv.URL+"/kafka/groups/billing/reset", "application/json",
		strings.NewReader(`{"topics":["payments"],"to":{"shift":-2},"dry_run":true}`))
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(string(body))
	// Output:
	// {"group":"billing","dry_run":true,"to":{"shift":-2},"partitions":[{"topic":"payments","partition":0,"old_offset":3,"new_offset":1,"log_start":0,"log_end":3,"skipped":0,"reread":2}],"skipped":0,"reread":2}
}
