package consumer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
)

// UserEventHandler is the seed's MessageHandler in Go: it parses the
// event, and returning an error makes the consumer retry it.
type UserEventHandler struct {
	Logger *slog.Logger
	Done   chan string
}

func (h *UserEventHandler) Handle(ctx context.Context, msg *consumer.Message) error {
	var event struct {
		UserID string `json:"userId"`
		Type   string `json:"type"`
	}
	if err := json.Unmarshal(msg.Value, &event); err != nil {
		// Retrying cannot fix a message that does not parse.
		return consumer.Permanent(fmt.Errorf("parse user event: %w", err))
	}
	h.Logger.InfoContext(ctx, "user event processed", "userId", event.UserID, "eventType", event.Type)
	h.Done <- event.UserID + " " + event.Type
	return nil
}

func Example() {
	cluster, err := kafkatest.Start(kafkatest.Topic("user-events", 3))
	if err != nil {
		panic(err)
	}
	defer cluster.Close()
	cfg := cluster.Config()

	c, err := consumer.New(cfg, consumer.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	handler := &UserEventHandler{Logger: slog.New(slog.DiscardHandler), Done: make(chan string)}
	if err := c.Subscribe("user-events", true, handler); err != nil {
		panic(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	go c.Run(ctx)
	defer func() {
		stop()
		c.Close()
	}()

	p, err := producer.New(cfg)
	if err != nil {
		panic(err)
	}
	defer p.Close()
	if _, err := p.SendJSON(ctx, "user-events", "user-123", map[string]string{"userId": "123", "type": "user_created"}); err != nil {
		panic(err)
	}
	fmt.Println(<-handler.Done)
	// Output: 123 user_created
}

// ExampleNewShare consumes in a share group: any number of consumers,
// in any number of processes, would share the topic's one partition.
func ExampleNewShare() {
	cluster, err := kafkatest.Start(kafkatest.Topic("jobs", 1))
	if err != nil {
		panic(err)
	}
	defer cluster.Close()
	cfg := cluster.Config()
	cfg.GroupID = "job-runners"

	p, err := producer.New(cfg)
	if err != nil {
		panic(err)
	}
	defer p.Close()
	if _, err := p.SendJSON(context.Background(), "jobs", "job-1", map[string]string{"userId": "7", "type": "resize_avatar"}); err != nil {
		panic(err)
	}

	sc, err := consumer.NewShare(cfg, consumer.ShareConcurrency(10), consumer.ShareFromBeginning(),
		consumer.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	handler := &UserEventHandler{Logger: slog.New(slog.DiscardHandler), Done: make(chan string)}
	if err := sc.Subscribe("jobs", handler); err != nil {
		panic(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sc.Run(ctx) }()
	fmt.Println(<-handler.Done)
	stop()
	<-done
	sc.Close()
	// Output: 7 resize_avatar
}
