package metrics_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/metrics"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func ExampleNew() {
	cluster, err := kafkatest.Start(kafkatest.Topic("orders", 1))
	if err != nil {
		panic(err)
	}
	defer cluster.Close()

	reg := prometheus.NewRegistry() // yours; nothing is registered globally
	m, err := metrics.New(reg)
	if err != nil {
		panic(err)
	}
	p, err := producer.New(cluster.Config(), producer.Logger(slog.New(slog.DiscardHandler)),
		producer.Observe(m), producer.ClientOpts(m.ClientOpts("producer")))
	if err != nil {
		panic(err)
	}
	defer p.Close()
	for range 3 {
		if _, err := p.Send(context.Background(), producer.Message{Topic: "orders", Value: []byte("{}")}); err != nil {
			panic(err)
		}
	}
	n, err := testutil.GatherAndCount(reg, "kafkakit_messages_produced_total")
	fmt.Println(n, err) // ok and error series of one topic
	// Output: 2 <nil>
}
