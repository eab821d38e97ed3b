// Package console is kafkakit's web console: one HTML page, its style
// sheet and script, embedded in the binary and built on the admin API
// (package admin). No build step makes it and it makes no request outside
// the server that serves it, which its Content-Security-Policy enforces.
package console

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var static embed.FS

// csp allows the page only its own origin: scripts, styles and requests
// alike, and no framing. Charts are inline SVG built by the script.
const csp = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the console under /console. The page is not secret and
// is served without the bearer token; it asks for the token and sends it
// on each API request.
func Handler() http.Handler {
	files, _ := fs.Sub(static, "static") // the directory is embedded: no error
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/console"), "/")
		if name == "" {
			name = "index.html"
		}
		if _, err := fs.Stat(files, name); err != nil || strings.Contains(name, "/") {
			http.NotFound(w, r)
			return
		}
		http.ServeFileFS(w, r, files, name)
	})
}
