// Command kafkakit is the kafkakit service and its tools:
//
//	kafkakit serve [--embedded]   the HTTP API and consumers, configured from the environment
//	kafkakit env                  print the configuration serve would use, secrets redacted
//	kafkakit dlq replay ...       send dead letters back to their original topic
//	kafkakit bench ...            measure kafkakit against raw franz-go
//	kafkakit version              print the version
//	kafkakit help                 print usage
//
// See the README for every environment variable.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise the module version is used.
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr); err != nil {
		var ue usageError
		var re reportedError
		if !errors.As(err, &ue) && !errors.As(err, &re) {
			fmt.Fprintln(os.Stderr, "kafkakit:", err)
		}
		os.Exit(exitCode(err))
	}
}

// usageError is a command line mistake; usage has already been printed.
type usageError struct{ error }

// reportedError is a failure the command has already printed.
type reportedError struct{ error }

func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

const usage = `kafkakit: a Kafka service and toolkit

Usage:
  kafkakit serve [--embedded]   run the HTTP API and consumers (configuration from the environment)
  kafkakit env                  print the configuration serve would use, secrets redacted
  kafkakit dlq replay --topic T [--to T2] [--limit N] [--dry-run] [--group G]
                                send dead letters back to their original topic, once
  kafkakit bench <produce|consume|keyed|http> [--embedded] [--baseline] ...
                                measure throughput, latency, allocations and memory
  kafkakit version              print the version
  kafkakit help                 print this help

serve --embedded runs an in-process Kafka broker for development, as
KAFKA_BROKERS=embedded does. "kafkakit serve -h" lists every environment
variable with its default; "kafkakit <command> -h" describes a command.
`

// run is the whole program, with its surroundings passed in so that tests
// can drive it.
func run(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{errors.New("no command")}
	}
	err := command(ctx, args, lookup, stdout, stderr)
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

func command(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return serve(ctx, rest, lookup, stdout, stderr)
	case "env":
		return envCommand(rest, lookup, stdout, stderr)
	case "dlq":
		return dlqCommand(ctx, rest, lookup, stdout, stderr)
	case "bench":
		return benchCommand(ctx, rest, lookup, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "kafkakit", versionString())
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "kafkakit: unknown command %q\n\n%s", cmd, usage)
		return usageError{fmt.Errorf("unknown command %q", cmd)}
	}
}

// errHelp ends a command whose help was asked for and printed: exit 0.
var errHelp = errors.New("help printed")

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "--h" || arg == "help"
}

// parse parses a command's flags. Help goes to stdout and ends the
// command with errHelp; a mistake prints the usage to stderr and is a
// usageError.
func parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.SetOutput(stderr)
	for _, a := range args {
		if a == "--" {
			break
		}
		if isHelp(a) && a != "help" {
			fs.SetOutput(stdout)
		}
	}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return errHelp
	case err != nil:
		return usageError{err}
	}
	return nil
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
