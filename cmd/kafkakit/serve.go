package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/internal/logattr"
	"github.com/kafkakit/kafkakit/internal/service"
)

const serveUsage = `Usage: kafkakit serve [--embedded]

Runs the HTTP API and the consumers. Everything else comes from the
environment; times are milliseconds. The variables, with their defaults
("kafkakit env" prints the values in effect):

`

// serve runs `kafkakit serve [--embedded]`.
func serve(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	embedded := fs.Bool("embedded", false, "run an in-process Kafka broker for development (KAFKA_BROKERS=embedded)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), serveUsage)
		service.PrintVars(fs.Output(), service.Defaults())
		fmt.Fprint(fs.Output(), "\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parse(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return mistake(stderr, "serve", fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	if *embedded {
		lookup = override(lookup, config.EnvBrokers, config.EmbeddedBrokers)
	}
	cfg, err := service.FromEnv(lookup)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	logger := cfg.Log.NewLogger(stderr)
	if err := service.Run(ctx, cfg, logger); err != nil {
		logger.LogAttrs(ctx, slog.LevelError, "kafkakit failed", logattr.Err(err))
		return err
	}
	return nil
}

const envUsage = `Usage: kafkakit env

Prints the configuration "kafkakit serve" would use: every variable, grouped,
with the value in effect (the default when unset), as a file that sh can
source and docker --env-file can read, both to the same values:

  kafkakit env > kafkakit.env
  set -a; . ./kafkakit.env; set +a
  docker run --env-file kafkakit.env ...

Comments are lines of their own. Values are written unquoted: a value that
sh would need quoted (docker would keep the quotes) is only shown in a
comment, and so is the name of a secret that is set, never its value.
`

// envCommand runs `kafkakit env`.
func envCommand(args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("env", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), envUsage) }
	if err := parse(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return mistake(stderr, "env", fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	cfg, err := service.FromEnv(lookup)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	service.WriteEnv(stdout, cfg)
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
