package console_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kafkakit/kafkakit/console"
)

func TestServesThePageWithItsPolicy(t *testing.T) {
	srv := httptest.NewServer(console.Handler())
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		status       int
		contentType  string
	}{
		{"GET", "/console", 200, "text/html; charset=utf-8"},
		{"GET", "/console/", 200, "text/html; charset=utf-8"},
		{"GET", "/console/console.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/console/console.css", 200, "text/css; charset=utf-8"},
		{"GET", "/console/missing.js", 404, ""},
		{"GET", "/console/../console.go", 404, ""},
		{"POST", "/console", 405, ""},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), tc.method, srv.URL+tc.path, nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: got %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
		if tc.contentType != "" && resp.Header.Get("Content-Type") != tc.contentType {
			t.Errorf("%s %s: Content-Type %q, want %q", tc.method, tc.path, resp.Header.Get("Content-Type"), tc.contentType)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'self'") {
			t.Errorf("%s %s: Content-Security-Policy %q, want default-src 'self'", tc.method, tc.path, csp)
		}
	}
}

// TestNoExternalReferences: the page names no other origin, so that it
// works offline and the policy never has to block anything.
func TestNoExternalReferences(t *testing.T) {
	url := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	err := fs.WalkDir(os.DirFS("static"), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(filepath.Join("static", path))
		if err != nil {
			return err
		}
		for _, m := range url.FindAllString(string(b), -1) {
			if m != "http://www.w3.org" { // the SVG namespace, a name and not a request
				t.Errorf("%s refers to %s", path, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
