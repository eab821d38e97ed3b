// Command kafkakit is the kafkakit service and its tools:
//
//	kafkakit serve [--embedded]   the HTTP API and consumers, configured from the environment
//	kafkakit env                  print the configuration serve would use, for sh or docker --env-file
//	kafkakit dlq replay ...       send dead letters back to their original topic
//	kafkakit bench ...            measure kafkakit against raw franz-go
//	kafkakit version              print the module version, or the VCS revision and time
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
	"strings"
	"syscall"

	"github.com/kafkakit/kafkakit/internal/bench"
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

// usage is the help of kafkakit itself. Bench's workloads and flags are
// read from its flag set, so that the list cannot drift from the code; a
// test checks that every flag of every command's -h is named here.
func usage() string {
	var b strings.Builder
	b.WriteString(`kafkakit: a Kafka service and toolkit

Usage:
  kafkakit serve [--embedded]   run the HTTP API and consumers (configuration from the environment);
                                --embedded runs an in-process Kafka broker, as KAFKA_BROKERS=embedded
  kafkakit env                  print the configuration serve would use, secrets left out, as a
                                file that sh can source and docker --env-file can read
  kafkakit dlq replay --topic T [--to T2] [--limit N] [--dry-run] [--group G] [--max-replays N]
                                send dead letters back to their original topic, once
`)
	fmt.Fprintf(&b, "  kafkakit bench <%s> [flags]\n", strings.Join(benchModes, "|"))
	b.WriteString("                                measure throughput, latency, allocations and memory; flags:\n")
	var flags []string
	newBenchFlags("http", new(bench.Workload), new(benchFlags)).VisitAll(func(f *flag.Flag) { flags = append(flags, "--"+f.Name) })
	line := ""
	for _, f := range flags {
		if line != "" && len(line)+1+len(f) > 70 {
			fmt.Fprintf(&b, "                                %s\n", line)
			line = ""
		}
		line = strings.TrimPrefix(line+" "+f, " ")
	}
	fmt.Fprintf(&b, "                                %s\n", line)
	b.WriteString(`  kafkakit version              print the version: the module version, or the VCS revision and time
  kafkakit help                 print this help

"kafkakit serve -h" lists every environment variable with its default;
"kafkakit <command> -h" describes a command and its flags.
`)
	return b.String()
}

// run is the whole program, with its surroundings passed in so that tests
// can drive it.
func run(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
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
		bi, _ := debug.ReadBuildInfo()
		fmt.Fprintln(stdout, "kafkakit", versionOf(version, bi))
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage())
		return nil
	default:
		fmt.Fprintf(stderr, "kafkakit: unknown command %q\nrun `kafkakit help` for the commands\n", cmd)
		return usageError{fmt.Errorf("unknown command %q", cmd)}
	}
}

// errHelp ends a command whose help was asked for and printed: exit 0.
var errHelp = errors.New("help printed")

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "--h" || arg == "help"
}

// parse parses a command's flags. Help (-h) goes to stdout and ends the
// command with errHelp; a mistake is one line on stderr, and where to find
// help, and is a usageError.
func parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	usage := fs.Usage
	fs.Usage = func() {}
	fs.SetOutput(io.Discard) // the flag package's own words about a mistake
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		usage()
		return errHelp
	case err != nil:
		return mistake(stderr, fs.Name(), err.Error())
	}
	return nil
}

// mistake tells of a command line mistake in command: one line, then
// where its help is.
func mistake(stderr io.Writer, command, msg string) error {
	fmt.Fprintf(stderr, "kafkakit %s: %s\nrun `kafkakit %s -h` for help\n", command, msg, command)
	return usageError{errors.New(msg)}
}

// versionOf is what kafkakit version prints: the version set at build
// time (-ldflags "-X main.version=v1.2.3"), else the module's version
// when it was built as a module (go install ...@v1.2.3), else the VCS
// revision and time Go stamped into a build from a git checkout. A build
// without any of them (go build -buildvcs=false, as .ci/run does, or
// outside a checkout) says so rather than inventing one.
func versionOf(set string, bi *debug.BuildInfo) string {
	if set != "" {
		return set
	}
	if bi == nil {
		return "(devel): no build information"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	vcs := map[string]string{}
	for _, s := range bi.Settings {
		vcs[s.Key] = s.Value
	}
	rev := vcs["vcs.revision"]
	switch {
	case rev == "" && v == "(devel)":
		return v + ": built without version control information (-buildvcs=false, or not in a git checkout)"
	case rev == "":
		return v
	}
	// A version Go derived from the checkout holds only the revision's
	// start; the revision in full and its time say which commit.
	detail := "revision " + rev
	if t := vcs["vcs.time"]; t != "" {
		detail += ", committed " + t
	}
	if vcs["vcs.modified"] == "true" {
		detail += ", with uncommitted changes"
	}
	return v + " (" + detail + ")"
}
