package producer_test

import (
	"context"
	"fmt"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
)

func ExampleProducer_Send() {
	cluster, err := kafkatest.Start(kafkatest.Topic("user-events", 3))
	if err != nil {
		panic(err)
	}
	defer cluster.Close()
	p, err := producer.New(cluster.Config())
	if err != nil {
		panic(err)
	}
	defer p.Close()

	res, err := p.Send(context.Background(), producer.Message{
		Topic:     "user-events",
		Key:       []byte("user-123"),
		Value:     []byte(`{"userId":"123","type":"user_created"}`),
		Headers:   []producer.Header{{Key: "source", Value: []byte("user-service")}},
		Partition: new(int32(2)),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Topic, res.Partition, res.Offset)
	// Output: user-events 2 0
}

func ExampleProducer_SendAsync() {
	cluster, err := kafkatest.Start(kafkatest.Topic("audit", 1))
	if err != nil {
		panic(err)
	}
	defer cluster.Close()
	p, err := producer.New(cluster.Config())
	if err != nil {
		panic(err)
	}
	defer p.Close()

	done := make(chan producer.Result)
	p.SendAsync(context.Background(), producer.Message{Topic: "audit", Value: []byte("login")}, func(r producer.Result) {
		done <- r // called once the broker acknowledged, or the send failed
	})
	r := <-done
	fmt.Println(r.Err, r.Offset)
	// Output: <nil> 0
}
