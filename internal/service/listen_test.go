package service

import (
	"net"
	"strings"
	"testing"

	"github.com/kafkakit/kafkakit/internal/env"
	"github.com/kafkakit/kafkakit/kafkatest"
)

// TestPortInUseNamesTheVariable: a second service on a taken port fails
// with an error naming the variable that chose the port, and its value.
func TestPortInUseNamesTheVariable(t *testing.T) {
	kafkatest.Parallel(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	for _, tt := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"http", map[string]string{"KAFKA_BROKERS": "embedded", "KAFKA_EMBEDDED_ADDR": "127.0.0.1:0", "HTTP_ADDR": addr},
			`HTTP_ADDR="` + addr + `" is in use (by another kafkakit serve?): set HTTP_ADDR to a free host:port`},
		{"embedded broker", map[string]string{"KAFKA_BROKERS": "embedded", "KAFKA_EMBEDDED_ADDR": addr, "HTTP_ADDR": "127.0.0.1:0"},
			`KAFKA_EMBEDDED_ADDR="` + addr + `" is in use (by another kafkakit serve --embedded?): set KAFKA_EMBEDDED_ADDR to a free host:port`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := FromEnv(env.Map(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			err = Run(t.Context(), cfg, (&logSink{}).logger())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error saying %s", err, tt.want)
			}
		})
	}
}

func TestOpenableURL(t *testing.T) {
	kafkatest.Parallel(t)
	for _, tt := range []struct {
		scheme, addr, want string
	}{
		{"http", "[::]:8080", "http://localhost:8080"},
		{"http", "0.0.0.0:8080", "http://localhost:8080"},
		{"https", "[::]:8443", "https://localhost:8443"},
		{"http", "127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"http", "[::1]:8080", "http://[::1]:8080"},
	} {
		addr, err := net.ResolveTCPAddr("tcp", tt.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := openableURL(tt.scheme, addr); got != tt.want {
			t.Errorf("openableURL(%s, %s): got %s, want %s", tt.scheme, tt.addr, got, tt.want)
		}
	}
}
