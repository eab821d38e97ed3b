package console_test

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/console"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
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

// TestPageCarriesFirstFigures: with FirstFigures, the page holds the
// overview's figures as JSON data, which a group named to end the element
// early cannot break out of; with a token set, a request without it gets
// the page without them.
func TestPageCarriesFirstFigures(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1))
	evil := `</script><script>alert(1)</script>`
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: "orders", Partition: 0, At: 0, LeaderEpoch: -1})
	if err := kadm.NewClient(c.Client(t)).CommitAllOffsets(t.Context(), evil, offsets); err != nil {
		t.Fatal(err)
	}
	figures := regexp.MustCompile(`(?s)<script type="application/json" id="first-figures">(.*?)</script>`)
	for _, tc := range []struct {
		name  string
		opts  []admin.Option
		token string
		want  bool
	}{
		{"open", nil, "", true},
		{"token set, none sent", []admin.Option{admin.AuthToken("tok")}, "", false},
		{"token set and sent", []admin.Option{admin.AuthToken("tok")}, "tok", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(console.Handler(console.FirstFigures(admin.New(c.Config(), c.Client(t), tc.opts...))))
			defer srv.Close()
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/console", nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
				t.Fatalf("status %d, %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if strings.Contains(string(body), "<script>alert") {
				t.Fatalf("the group's name ended the data element:\n%s", body)
			}
			m := figures.FindSubmatch(body)
			if m == nil {
				t.Fatalf("no first-figures element in\n%s", body)
			}
			if !tc.want {
				if len(m[1]) != 0 {
					t.Errorf("figures %s sent without the token", m[1])
				}
				return
			}
			var o admin.Overview
			if err := json.Unmarshal(m[1], &o); err != nil {
				t.Fatalf("figures %s: %v", m[1], err)
			}
			if len(o.Topics) != 1 || len(o.Groups) != 1 || o.Groups[0].Name != evil {
				t.Errorf("figures %+v, want orders and the group", o)
			}
		})
	}
}
