package webhook_test

import (
	"fmt"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/webhook"
)

func ExampleNewBody() {
	body := webhook.NewBody(&consumer.Message{
		Topic: "orders", Partition: 2, Offset: 41, Key: []byte("order-7"),
		Value: []byte(`{"total": 12.5}`),
		Headers: []consumer.Header{
			{Key: "tag", Value: []byte("a")},
			{Key: "tag", Value: []byte{0xff}},
			{Key: "trace", Value: nil},
		},
		Timestamp: time.Date(2026, 11, 27, 10, 0, 0, 123e6, time.UTC),
	})
	out, _ := body.MarshalJSON()
	fmt.Println(string(out))
	// Output: {"topic":"orders","partition":2,"offset":41,"timestamp":"2026-11-27T10:00:00.123Z","key":"order-7","key_encoding":"string","headers":[{"key":"tag","value":"a","value_encoding":"string"},{"key":"tag","value":"/w==","value_encoding":"base64"},{"key":"trace","value":null,"value_encoding":null}],"value":{"total": 12.5},"value_encoding":"json"}
}
