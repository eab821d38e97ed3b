package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/dlq"
)

const dlqUsage = `Usage:
  kafkakit dlq replay --topic <dead-letter topic> [--to <topic>] [--limit N] [--dry-run] [--group <id>]

Sends dead letters back to the topic named in their kafka_dlt-original-topic
header (or --to), without the dead-letter headers, once: progress is
committed to a consumer group, so a second run continues where the first
stopped. The Kafka connection comes from the environment (KAFKA_BROKERS, ...).
`

// dlqCommand runs `kafkakit dlq replay ...`.
func dlqCommand(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprint(stdout, dlqUsage)
		return nil
	}
	if len(args) == 0 || args[0] != "replay" {
		fmt.Fprint(stderr, dlqUsage)
		return usageError{fmt.Errorf("dlq: want the replay subcommand")}
	}
	fs := flag.NewFlagSet("dlq replay", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), dlqUsage, "\nFlags:\n"); fs.PrintDefaults() }
	var o dlq.ReplayOptions
	fs.StringVar(&o.Topic, "topic", "", "the dead-letter topic to replay (required)")
	fs.StringVar(&o.To, "to", "", "send to this topic instead of each dead letter's original topic")
	fs.IntVar(&o.Limit, "limit", 0, "replay at most this many dead letters (0: all)")
	fs.BoolVar(&o.DryRun, "dry-run", false, "list what would be replayed; send and commit nothing")
	fs.StringVar(&o.Group, "group", "", "consumer group that records progress (default <KAFKA_CLIENT_ID>-dlq-replay)")
	if err := parse(fs, args[1:], stdout, stderr); err != nil {
		return err
	}
	switch {
	case o.Topic == "":
		fmt.Fprint(stderr, "kafkakit dlq replay: --topic is required\n\n"+dlqUsage)
		return usageError{fmt.Errorf("no --topic")}
	case o.Limit < 0:
		fmt.Fprint(stderr, "kafkakit dlq replay: --limit must not be negative\n")
		return usageError{fmt.Errorf("negative --limit")}
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "kafkakit dlq replay: unexpected argument %q\n", fs.Arg(0))
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	cfg, err := config.FromEnv(lookup)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	logCfg, err := config.LoggingFromEnv(lookup)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	o.Logger = logCfg.NewLogger(stderr)
	verb := "replayed"
	if o.DryRun {
		verb = "would replay"
		o.OnRecord = func(r dlq.Record) {
			fmt.Fprintf(stdout, "would replay partition=%d offset=%d key=%q to=%s error=%q\n", r.Partition, r.Offset, r.Key, r.To, r.Error)
		}
	}
	sum, err := dlq.Replay(ctx, cfg, o)
	var per []string
	for _, topic := range slices.Sorted(maps.Keys(sum.Replayed)) {
		per = append(per, fmt.Sprintf("%s=%d", topic, sum.Replayed[topic]))
	}
	switch {
	case sum.Total == 0 && err == nil:
		fmt.Fprintf(stdout, "nothing to replay in %s\n", o.Topic)
	default:
		fmt.Fprintf(stdout, "%s %d dead letters from %s (%s); %d left\n", verb, sum.Total, o.Topic, strings.Join(per, " "), sum.Remaining)
	}
	return err
}
