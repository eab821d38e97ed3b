package tracing_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The library's packages build without the OpenTelemetry SDK, exporters, gRPC, the fake broker or
// a browser driver: those belong to `kafkakit serve` (internal/otelenv,
// internal/embedded) and to tests (kafkatest), so that a service importing
// the library compiles only what it uses.
func TestLibraryImportsStayLight(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	library := []string{"config", "producer", "consumer", "httpapi", "admin", "webhook", "dlq", "metrics", "tracing", "console"}
	args := []string{"list", "-deps"}
	for _, p := range library {
		args = append(args, "github.com/kafkakit/kafkakit/"+p)
	}
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	heavy := []string{"google.golang.org/grpc", "go.opentelemetry.io/otel/sdk", "go.opentelemetry.io/otel/exporters", "go.opentelemetry.io/contrib/exporters/autoexport", "github.com/twmb/franz-go/pkg/kfake", "github.com/chromedp/"}
	for _, dep := range strings.Fields(string(out)) {
		for _, h := range heavy {
			if strings.HasPrefix(dep, h) {
				t.Errorf("a library package depends on %s", dep)
			}
		}
	}
}
