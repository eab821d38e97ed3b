// Package console is kafkakit's web console: one HTML page, its style
// sheet and script, embedded in the binary and built on the admin API
// (package admin). No build step makes it and it makes no request outside
// the server that serves it, which its Content-Security-Policy enforces.
package console

import (
	"bytes"
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"strings"

	"github.com/kafkakit/kafkakit/admin"
)

//go:embed static
var static embed.FS

// csp allows the page only its own origin: scripts, styles and requests
// alike, and no framing. Charts are inline SVG built by the script. The
// first figures are JSON in a <script type="application/json">, data
// that the browser never runs, so the policy needs no exception for it.
const csp = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// figuresSlot is the element of index.html that the first figures go in.
const figuresSlot = `<script type="application/json" id="first-figures"></script>`

// Option configures Handler.
type Option interface{ apply(*options) }

type options struct {
	adm *admin.Handler
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// FirstFigures serves the page with the overview's first figures in it,
// read from adm for each request for the page (see
// [admin.Handler.Overview]), so that the page's first paint shows them.
// A request that could not read them from the admin API (with
// a token required, a browser's request for a page) gets the page
// without them, which then asks for them with the token. By default the
// page always asks.
func FirstFigures(adm *admin.Handler) Option {
	return optionFunc(func(o *options) { o.adm = adm })
}

// Handler serves the console under /console. The page is not secret and
// is served without the bearer token; it asks for a token and sends it
// on each API request.
func Handler(opts ...Option) http.Handler {
	var o options
	for _, opt := range opts {
		opt.apply(&o)
	}
	files, _ := fs.Sub(static, "static")         // the directory is embedded: no error
	index, _ := fs.ReadFile(files, "index.html") // likewise
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
		if name == "" || name == "index.html" {
			h.Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(withFigures(index, o.adm, r))
			return
		}
		if _, err := fs.Stat(files, name); err != nil || strings.Contains(name, "/") {
			http.NotFound(w, r)
			return
		}
		http.ServeFileFS(w, r, files, name)
	})
}

// withFigures is the page with the overview's first figures for r in its
// slot, or as it is when there are none.
func withFigures(index []byte, adm *admin.Handler, r *http.Request) []byte {
	if adm == nil {
		return index
	}
	o, ok := adm.Overview(r)
	if !ok {
		return index
	}
	// json.Marshal escapes <, > and &, so nothing in a topic's or a
	// group's name can end the script element early.
	data, err := json.Marshal(o)
	if err != nil {
		return index
	}
	slot := strings.TrimSuffix(figuresSlot, "</script>")
	return bytes.Replace(index, []byte(figuresSlot), append(append([]byte(slot), data...), "</script>"...), 1)
}
