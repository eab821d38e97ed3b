package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/internal/service"
)

// serve runs `kafkakit serve [--embedded]`.
func serve(ctx context.Context, args []string, lookup func(string) (string, bool), stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	embedded := fs.Bool("embedded", false, "run an in-process Kafka broker for development (KAFKA_BROKERS=embedded)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "kafkakit serve: unexpected argument %q\n", fs.Arg(0))
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if *embedded {
		lookup = override(lookup, "KAFKA_BROKERS", config.EmbeddedBrokers)
	}
	cfg, err := service.FromEnv(lookup)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	logger := cfg.Log.NewLogger(stderr)
	if err := service.Run(ctx, cfg, logger); err != nil {
		logger.Error("kafkakit failed", "error", err.Error())
		return err
	}
	return nil
}

// override returns lookup with name set to value.
func override(lookup func(string) (string, bool), name, value string) func(string) (string, bool) {
	return func(n string) (string, bool) {
		if n == name {
			return value, true
		}
		return lookup(n)
	}
}
