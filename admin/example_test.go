package admin_test

import (
	"fmt"
	"io"
	"net/http/httptest"

	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/kafkatest"
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
