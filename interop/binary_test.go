//go:build interop

package interop

import (
	"bytes"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/kafkakit/kafkakit/producer"
)

// TestBinaryOverHTTPReadByKcat sends every byte value 0x00-0xFF as the key
// and the value, and 0x01-0xFF as a header's value, through POST
// /kafka/send, and reads the record back with kcat (librdkafka): every
// byte arrives as it was sent.
func TestBinaryOverHTTPReadByKcat(t *testing.T) {
	addr, cfg := startBroker(t)
	p, err := producer.New(cfg, producer.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	srv := httptest.NewServer(httpapi.New(p, httpapi.Logger(slog.New(slog.DiscardHandler))))
	defer srv.Close()

	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	b64 := base64.StdEncoding.EncodeToString(all)
	// kcat prints header values as C strings, which end at a NUL byte, so
	// the header holds 0x01-0xFF; Go's client reads the NUL too (httpapi's
	// TestBinaryRoundTrip).
	noNUL := base64.StdEncoding.EncodeToString(all[1:])
	body := `{"topic":"binary","partition":0,"key":"` + b64 + `","key_encoding":"base64","value":"` + b64 + `","value_encoding":"base64",
		"headers":[{"key":"bin","value":"` + noNUL + `","value_encoding":"base64"}]}`
	resp, err := http.Post(srv.URL+"/kafka/send", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("send: %d %s", resp.StatusCode, answer)
	}

	// One kcat run per part, each printing only that part's raw bytes.
	for _, tt := range []struct {
		format string
		want   []byte
	}{
		{"%k", all},
		{"%s", all},
		{"%h", append([]byte("bin="), all[1:]...)},
	} {
		out, err := exec.Command("kcat", "-b", addr, "-C", "-t", "binary", "-o", "beginning", "-e", "-q", "-f", tt.format).Output()
		if err != nil {
			t.Fatalf("kcat -f %s: %v", tt.format, err)
		}
		if !bytes.Equal(out, tt.want) {
			t.Errorf("kcat -f %s read %x,\nwant %x", tt.format, out, tt.want)
		}
	}
}
