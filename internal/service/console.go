package service

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/console"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/kafkakit/kafkakit/queue"
)

// withAdmin serves the admin API and the queue routes next to api, behind
// the same bearer token and topic allowlist as the send routes, the
// console built on the admin API unless HTTP_CONSOLE=false, and / (see
// root).
func (s *server) withAdmin(api http.Handler) http.Handler {
	cfg := s.cfg
	var statuses func() []consumer.Status
	if s.cons != nil {
		statuses = func() []consumer.Status { return []consumer.Status{s.cons.Status()} }
	}
	adm := admin.New(cfg.Kafka, s.prod.Client(),
		admin.Guard(s.guard),
		admin.AllowedTopics(cfg.AllowedTopics...),
		admin.Timeout(cfg.Kafka.RequestTimeout),
		admin.ClientOpts(s.clientOpts("admin")...),
		admin.Logger(s.logger),
		admin.Metrics(s.reg),
		admin.Observe(s.metrics),
		admin.Consumers(statuses),
		admin.ShareInFlight(s.shareInFlight),
	)
	mux := http.NewServeMux()
	mux.Handle("/", api)
	mux.Handle("GET /{$}", s.root())
	for _, p := range admin.Prefixes {
		mux.Handle(p, adm)
		mux.Handle(p+"/", adm)
	}
	mux.Handle(queue.Prefix, s.queues)
	if cfg.Console {
		page := console.Handler(console.FirstFigures(adm))
		mux.Handle("/console", page)
		mux.Handle("/console/", page)
	}
	return mux
}

// root answers GET /, where a person lands first: a redirect to the
// console, or, with the console off, a short JSON index of the routes,
// taken from the OpenAPI document. Like /openapi.json it is open unless
// HTTP_AUTH_TOKEN_PROTECT_ALL, which asks for a token with the read scope.
func (s *server) root() http.Handler {
	cfg := s.cfg
	index := routeIndex()
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cfg.Console {
			http.Redirect(w, r, "/console", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(index)
	})
	if cfg.ProtectAll {
		h = s.guard.Route("GET /{$}", h)
	}
	return h
}

// routeIndex is the body of GET / with the console off: the routes as
// "METHOD /path", sorted, and where their description is.
func routeIndex() []byte {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	_ = json.Unmarshal(httpapi.OpenAPI(), &doc) // embedded, and checked by its tests
	var routes []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if m := strings.ToUpper(method); slices.Contains([]string{"GET", "POST", "PUT", "PATCH", "DELETE"}, m) {
				routes = append(routes, m+" "+path)
			}
		}
	}
	slices.SortFunc(routes, func(a, b string) int {
		_, pa, _ := strings.Cut(a, " ")
		_, pb, _ := strings.Cut(b, " ")
		return strings.Compare(pa+" "+a, pb+" "+b)
	})
	b, _ := json.Marshal(struct {
		Service string   `json:"service"`
		Console string   `json:"console"`
		OpenAPI string   `json:"openapi"`
		Routes  []string `json:"routes"`
	}{"kafkakit", "off (HTTP_CONSOLE=false)", "/openapi.json", routes})
	return append(b, '\n')
}
