package otelenv

import (
	"context"
	"testing"
)

func TestEnabled(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"nothing set", nil, false},
		{"an OTLP endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true},
		{"a traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, true},
		{"an exporter", map[string]string{"OTEL_TRACES_EXPORTER": "console"}, true},
		{"exporter none wins over an endpoint", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, false},
		{"SDK disabled", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, false},
		{"blank values", map[string]string{"OTEL_TRACES_EXPORTER": "  ", "OTEL_EXPORTER_OTLP_ENDPOINT": " "}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			if got := Enabled(lookup); got != tt.want {
				t.Errorf("Enabled = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFromEnvBuildsAConsoleExporter(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "console")
	tr, shutdown, err := FromEnv(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tr == nil {
		t.Fatal("FromEnv returned no tracing")
	}
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
