package admin_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestOverviewForThePage: the overview's first figures are read for a
// request that may read the admin API, and not for one without the token.
func TestOverviewForThePage(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 2), kafkatest.Topic("hidden", 1))
	produce(t, c, &kgo.Record{Topic: "orders", Partition: 1, Value: []byte("x")})
	page := func(token string) *http.Request {
		r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/console", nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		return r
	}
	open := admin.New(c.Config(), c.Client(t), admin.AllowedTopics("orders"))
	o, ok := open.Overview(page(""))
	if !ok || len(o.Topics) != 1 || o.Topics[0].Name != "orders" || o.Topics[0].Messages != 1 || o.Groups == nil || o.Live != nil {
		t.Errorf("without a token set: %+v, %v; want orders with 1 message, no groups and live figures off", o, ok)
	}
	guarded := admin.New(c.Config(), c.Client(t), admin.AuthToken("tok"), admin.Metrics(prometheus.NewRegistry()))
	if o, ok := guarded.Overview(page("")); ok {
		t.Errorf("with a token set, a request without it got %+v", o)
	}
	if o, ok := guarded.Overview(page("wrong")); ok {
		t.Errorf("with a token set, a request with a wrong one got %+v", o)
	}
	if o, ok := guarded.Overview(page("tok")); !ok || len(o.Topics) != 2 || o.Live == nil {
		t.Errorf("with the token: %+v, %v; want both topics and live figures on", o, ok)
	}
}
