package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/dlq"
)

const dlqUsage = `Usage:
  kafkakit dlq replay --topic <dead-letter topic> [--to <topic>] [--limit N] [--dry-run] [--group <id>] [--max-replays N]

Sends dead letters back to the topic and partition named in their
kafka_dlt-original-* (or Kafka Connect's __connect.errors.*) headers, or to
--to, without the headers the dead-lettering added, once: progress is
committed to a consumer group, so a second run continues where the first
stopped. Each replay counts in the kafkakit-replay-count header; a dead
letter already replayed --max-replays times goes to <topic>.parked instead.
A dead letter whose destination is an internal topic (a name starting with
__), no valid topic name, or missing is not replayed: it is listed with
why, stays in the topic, and the run ends with exit status 1 (a dry run
lists it and ends with 0). The Kafka connection comes from the
environment (KAFKA_BROKERS, ...).
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
	fs.IntVar(&o.MaxReplays, "max-replays", dlq.DefaultMaxReplays, "park, instead of replaying, a dead letter replayed this many times")
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
	case o.MaxReplays < 1:
		fmt.Fprint(stderr, "kafkakit dlq replay: --max-replays must be at least 1\n")
		return usageError{fmt.Errorf("--max-replays below 1")}
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "kafkakit dlq replay: unexpected argument %q\n", fs.Arg(0))
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if o.To != "" {
		if e := dlq.CheckDestination(o.To); e != nil {
			fmt.Fprintf(stderr, "kafkakit dlq replay: --to: %v\n", e)
			return usageError{e}
		}
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
	o.OnRecord = func(r dlq.Record) {
		if o.DryRun || r.Refused != nil {
			fmt.Fprintln(stdout, describe(r, o.DryRun))
		}
	}
	sum, err := dlq.Replay(ctx, cfg, o)
	if err != nil {
		// The error first: it is what needs reading; then what was done
		// before it, if anything.
		fmt.Fprintf(stderr, "kafkakit dlq replay: %v\n", err)
		if sum.Total > 0 {
			fmt.Fprintf(stdout, "%s before the error\n", summary(o, sum))
		}
		return reportedError{err}
	}
	switch {
	case sum.Total == 0 && sum.Refused == 0:
		fmt.Fprintf(stdout, "nothing to replay in %s\n", o.Topic)
	default:
		fmt.Fprintln(stdout, summary(o, sum))
	}
	if sum.Refused > 0 && !o.DryRun {
		err := fmt.Errorf("%d dead letters were not replayed (listed above); they stay in %s", sum.Refused, o.Topic)
		fmt.Fprintf(stderr, "kafkakit dlq replay: %v\n", err)
		return reportedError{err}
	}
	return nil
}

// describe is a dry run's line for one dead letter, or the line of one
// refused. A null key prints as null, unlike an empty one ("").
func describe(r dlq.Record, dryRun bool) string {
	key := "null"
	if r.Key != nil {
		key = strconv.Quote(string(r.Key))
	}
	to := r.To
	if r.ToPartition >= 0 {
		to = fmt.Sprintf("%s partition=%d", r.To, r.ToPartition)
	}
	if r.Refused != nil {
		verb := "not replayed"
		if dryRun {
			verb = "would not replay"
		}
		return fmt.Sprintf("%s partition=%d offset=%d key=%s reason=%s: %v", verb, r.Partition, r.Offset, key, r.Refused.Reason, r.Refused)
	}
	verb := "would replay"
	if r.Parked {
		verb = "would park"
	}
	return fmt.Sprintf("%s partition=%d offset=%d key=%s to=%s error=%q", verb, r.Partition, r.Offset, key, to, r.Error)
}

// summary says how many dead letters went where, and how many are left.
func summary(o dlq.ReplayOptions, sum dlq.Summary) string {
	verb := "replayed"
	if o.DryRun {
		verb = "would replay"
	}
	var per []string
	for _, topic := range slices.Sorted(maps.Keys(sum.Replayed)) {
		per = append(per, fmt.Sprintf("%s=%d", topic, sum.Replayed[topic]))
	}
	line := fmt.Sprintf("%s %d dead letters from %s", verb, sum.Total, o.Topic)
	if len(per) > 0 {
		line += " (" + strings.Join(per, " ") + ")"
	}
	if sum.Refused > 0 {
		line += fmt.Sprintf(", %d not", sum.Refused)
	}
	return fmt.Sprintf("%s; %d left", line, sum.Remaining)
}
