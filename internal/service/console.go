package service

import (
	"net/http"

	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/console"
)

// withAdmin serves the admin API next to api, behind the same bearer
// token and topic allowlist as the send routes, and the console built on
// it unless HTTP_CONSOLE=false.
func (s *server) withAdmin(api http.Handler) http.Handler {
	cfg := s.cfg
	adm := admin.New(cfg.Kafka, s.prod.Client(),
		admin.AuthToken(cfg.AuthToken),
		admin.AllowedTopics(cfg.AllowedTopics...),
		admin.Timeout(cfg.Kafka.RequestTimeout),
		admin.ClientOpts(s.clientOpts("admin")...),
		admin.Logger(s.logger),
		admin.Metrics(s.reg),
		admin.Observe(s.metrics),
	)
	mux := http.NewServeMux()
	mux.Handle("/", api)
	for _, p := range admin.Prefixes {
		mux.Handle(p, adm)
		mux.Handle(p+"/", adm)
	}
	if cfg.Console {
		mux.Handle("/console", console.Handler())
		mux.Handle("/console/", console.Handler())
	}
	return mux
}
