package config_test

import (
	"fmt"

	"github.com/kafkakit/kafkakit/config"
)

func ExampleFromEnv() {
	// In a program: config.FromEnv(os.LookupEnv). Here, a fixed environment.
	environment := map[string]string{
		"KAFKA_BROKERS":   "kafka-1:9092,kafka-2:9092",
		"KAFKA_CLIENT_ID": "orders-service",
	}
	lookup := func(name string) (string, bool) { v, ok := environment[name]; return v, ok }
	cfg, err := config.FromEnv(lookup)
	fmt.Println(cfg.Brokers, cfg.GroupID, cfg.SessionTimeout, err)

	environment["KAFKA_SESSION_TIMEOUT"] = "abc"
	_, err = config.FromEnv(lookup)
	fmt.Println(err)
	// Output:
	// [kafka-1:9092 kafka-2:9092] orders-service-group 30s <nil>
	// KAFKA_SESSION_TIMEOUT: "abc" is not a whole number of milliseconds
}
