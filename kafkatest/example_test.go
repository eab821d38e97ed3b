package kafkatest_test

import (
	"context"
	"fmt"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
)

func Example() {
	// In a test: c := kafkatest.NewCluster(t, ...), closed when the test ends.
	c, err := kafkatest.Start(kafkatest.Topic("orders", 3))
	if err != nil {
		panic(err)
	}
	defer c.Close()

	p, err := producer.New(c.Config())
	if err != nil {
		panic(err)
	}
	defer p.Close()
	res, err := p.Send(context.Background(), producer.Message{Topic: "orders", Key: []byte("order-1"), Value: []byte("42")})
	fmt.Println(res.Topic, res.Offset, err)
	// Output: orders 0 <nil>
}
