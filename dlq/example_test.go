package dlq_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/dlq"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
)

func ExampleReplay() {
	cluster, err := kafkatest.Start(kafkatest.Topic("orders", 1), kafkatest.Topic("orders.dlq", 1))
	if err != nil {
		panic(err)
	}
	defer cluster.Close()
	quiet := slog.New(slog.DiscardHandler)
	p, err := producer.New(cluster.Config(), producer.Logger(quiet))
	if err != nil {
		panic(err)
	}
	defer p.Close()
	// A message that failed, as the consumer dead-letters it.
	failed := &consumer.Message{Topic: "orders", Offset: 7, Key: []byte("order-7"), Value: []byte("{}"), Timestamp: time.Now()}
	if _, err := p.Send(context.Background(), consumer.DeadLetter(failed, errors.New("payment service down"), 4, "shop", "orders.dlq", time.Now())); err != nil {
		panic(err)
	}

	sum, err := dlq.Replay(context.Background(), cluster.Config(), dlq.ReplayOptions{Topic: "orders.dlq", Logger: quiet})
	fmt.Println(sum.Replayed, err)
	sum, err = dlq.Replay(context.Background(), cluster.Config(), dlq.ReplayOptions{Topic: "orders.dlq", Logger: quiet})
	fmt.Println(sum.Total, err)
	// Output:
	// map[orders:1] <nil>
	// 0 <nil>
}
