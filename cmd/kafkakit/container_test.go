package main

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	"golang.org/x/mod/modfile"

	"github.com/kafkakit/kafkakit/kafkatest"
)

// The Dockerfile and compose.yaml cannot be run on a machine without a
// container engine, so these tests hold them to what they promise: a
// multi-stage build of this command into a non-root image holding the binary
// only, and a compose file whose kafkakit reaches its Kafka and is configured
// with variables kafkakit knows.

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, COPY, ...
	args string
}

func readDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var line strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		if line.Len() == 0 && (text == "" || strings.HasPrefix(text, "#")) {
			continue
		}
		if cont, ok := strings.CutSuffix(text, `\`); ok {
			line.WriteString(cont + " ")
			continue
		}
		line.WriteString(text)
		cmd, args, _ := strings.Cut(line.String(), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		line.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// stages splits instructions at each FROM.
func stages(ins []instruction) [][]instruction {
	var out [][]instruction
	for _, in := range ins {
		if in.cmd == "FROM" {
			out = append(out, nil)
		}
		if len(out) > 0 {
			out[len(out)-1] = append(out[len(out)-1], in)
		}
	}
	return out
}

func TestDockerfile(t *testing.T) {
	kafkatest.Parallel(t)
	known := []string{"FROM", "WORKDIR", "COPY", "RUN", "USER", "EXPOSE", "ENTRYPOINT", "CMD", "ENV", "ARG", "LABEL"}
	ins := readDockerfile(t, "../../Dockerfile")
	for _, in := range ins {
		if !slices.Contains(known, in.cmd) {
			t.Errorf("unknown instruction %s %s", in.cmd, in.args)
		}
	}
	st := stages(ins)
	if len(st) != 2 {
		t.Fatalf("got %d stages, want a build stage and a final stage", len(st))
	}
	build, final := st[0], st[1]

	image, alias, _ := strings.Cut(build[0].args, " AS ")
	goVersion := goDirective(t)
	if want := "golang:" + majorMinor(goVersion); image != want {
		t.Errorf("build stage FROM %s, want %s (go.mod says go %s)", image, want, goVersion)
	}
	var buildCmd string
	for _, in := range build {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			buildCmd = in.args
		}
	}
	if !strings.HasPrefix(buildCmd, "CGO_ENABLED=0 ") || !strings.HasSuffix(buildCmd, " ./cmd/kafkakit") {
		t.Errorf("build command %q: want a static build (CGO_ENABLED=0) of ./cmd/kafkakit", buildCmd)
	}

	base := final[0].args
	if base != "scratch" && !strings.HasPrefix(base, "gcr.io/distroless/static") {
		t.Errorf("final stage FROM %s, want scratch or distroless static", base)
	}
	var user string
	var entry []string
	for _, in := range final[1:] {
		switch in.cmd {
		case "COPY":
			if !strings.HasPrefix(in.args, "--from="+strings.TrimSpace(alias)+" ") {
				t.Errorf("final stage COPY %s: only the binary from the build stage belongs there", in.args)
			}
		case "RUN":
			t.Errorf("final stage RUN %s: the image holds the binary only", in.args)
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(in.args), &entry); err != nil {
				t.Errorf("ENTRYPOINT %s is not exec form: %v", in.args, err)
			}
		}
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "root" || u == "0" {
		t.Errorf("final stage USER %q, want a non-root user", user)
	}
	if !slices.Equal(entry, []string{"/kafkakit"}) {
		t.Errorf("ENTRYPOINT %q, want [/kafkakit]", entry)
	}

	// The build command's flags and package are right: -n plans the build
	// without running it (a full -trimpath build costs a minute here).
	out := filepath.Join(t.TempDir(), "kafkakit")
	plan := strings.Replace(strings.Replace(buildCmd, "/out/kafkakit", out, 1), "go build", "go build -n", 1)
	cmd := exec.Command("sh", "-c", plan)
	cmd.Dir = "../.."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", buildCmd, err, b)
	}
}

func goDirective(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mf, err := modfile.ParseLax("go.mod", b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return mf.Go.Version
}

func majorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	return strings.Join(parts[:min(2, len(parts))], ".")
}

func TestComposeFile(t *testing.T) {
	kafkatest.Parallel(t)
	b, err := os.ReadFile("../../compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image     string
			Build     string
			DependsOn map[string]struct{ Condition string } `yaml:"depends_on"`
			Env       map[string]string                     `yaml:"environment"`
			Ports     []string
		}
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatal(err)
	}
	kafka, kit := compose.Services["kafka"], compose.Services["kafkakit"]
	if kafka.Image == "" || kit.Build != "." {
		t.Fatalf("want a kafka service with an image and a kafkakit service built from this repository, got %+v", compose.Services)
	}
	if kit.DependsOn["kafka"].Condition != "service_healthy" {
		t.Errorf("kafkakit should wait for a healthy kafka, got %+v", kit.DependsOn)
	}
	if kafka.Env["KAFKA_PROCESS_ROLES"] != "broker,controller" {
		t.Errorf("kafka should run as a single KRaft node, got roles %q", kafka.Env["KAFKA_PROCESS_ROLES"])
	}
	advertised := strings.TrimPrefix(kafka.Env["KAFKA_ADVERTISED_LISTENERS"], "PLAINTEXT://")
	if kit.Env["KAFKA_BROKERS"] != advertised {
		t.Errorf("KAFKA_BROKERS %q, want the broker's advertised listener %q", kit.Env["KAFKA_BROKERS"], advertised)
	}
	if host, _, err := net.SplitHostPort(advertised); err != nil || host != "kafka" {
		t.Errorf("advertised listener %q should name the kafka service", advertised)
	}

	reference, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range kit.Env {
		if !strings.Contains(string(reference), "`"+name+"`") {
			t.Errorf("compose sets %s, which the configuration reference (docs/configuration.md) does not know", name)
		}
	}
	_, httpPort, _ := net.SplitHostPort(kit.Env["HTTP_ADDR"])
	if !slices.ContainsFunc(kit.Ports, func(p string) bool { return strings.HasSuffix(p, ":"+httpPort) }) {
		t.Errorf("ports %q do not publish HTTP_ADDR's port %s", kit.Ports, httpPort)
	}
}
